package sluice.core.user;

import sluice.core.CborSerializable;

/** The user actor's answer to {@code Admit}. */
public sealed interface Admission extends CborSerializable {

  /**
   * Counted and reserved; the edge must send exactly one {@code Settle} for the admission id.
   *
   * @param keyId the key that was used, or the trusted credential's label ({@code config:<name>}, {@code oidc:<issuer>})
   */
  record Admitted(String userId, String keyId, RateInfo rate) implements Admission {}

  /**
   * Refused, and why.
   *
   * @param retryAfterSeconds when the request could succeed, or -1 when waiting does not help
   * @param keyId             the key that was presented, when it is known
   * @param rate              the limits that refused it (empty when it was not a limit)
   */
  record Refused(AdmissionRefusal reason, String message, long retryAfterSeconds, String keyId, RateInfo rate)
      implements Admission {}
}
