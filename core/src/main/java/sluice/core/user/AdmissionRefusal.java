package sluice.core.user;

import java.util.Locale;

/**
 * Why the user actor refused a request. Among the limits, the later constant is the more specific one: when two limits
 * refuse with the same wait, the client is told about the later.
 */
public enum AdmissionRefusal {
  /** The admission itself was malformed (an invalid user id or model): the edge's fault or a hostile caller's. */
  INVALID_REQUEST,
  /** No key of this user has this secret. */
  UNKNOWN_KEY,
  KEY_REVOKED,
  KEY_EXPIRED,
  /** The key is limited to other models. */
  MODEL_NOT_ALLOWED,
  /** As many requests in flight as a scope allows. */
  CONCURRENCY_LIMIT,
  /** A scope's requests per minute, hour, day or month are used up. */
  REQUEST_RATE_LIMIT,
  /** A scope's tokens per minute or hour are used up. */
  TOKEN_RATE_LIMIT,
  /** A scope's token budget (per day or month) is used up. */
  TOKEN_BUDGET;

  /** The stable name for logs and metrics. */
  public String label() { return name().toLowerCase(Locale.ROOT); }

  /** A refusal that waiting can end (a limit), as opposed to one of the credential. */
  public boolean isLimit() { return ordinal() >= CONCURRENCY_LIMIT.ordinal(); }
}
