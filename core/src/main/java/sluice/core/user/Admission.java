package sluice.core.user;

import sluice.core.CborSerializable;

/** The user actor's answer to {@code Admit}. */
public sealed interface Admission extends CborSerializable {

  /** Counted and reserved; the edge must send exactly one {@code Settle} for {@code requestId}. */
  record Admitted(String userId, String keyId, RateInfo rate) implements Admission {}

  /**
   * Refused, with the HTTP status and OpenAI error code the client gets: 401 {@code invalid_api_key},
   * {@code key_expired}, {@code key_revoked}; 403 {@code model_not_allowed}; 429 {@code rate_limit_exceeded}
   * (requests or tokens per window, type {@code requests} or {@code tokens}), {@code insufficient_quota} (a day or
   * month token budget), {@code concurrency_limit_exceeded}.
   *
   * @param type              the OpenAI error type: invalid_request_error, requests, tokens or insufficient_quota
   * @param retryAfterSeconds when the request could succeed, or -1 when waiting does not help
   */
  record Refused(int status, String type, String code, String message, long retryAfterSeconds, String keyId, RateInfo rate)
      implements Admission {}
}
