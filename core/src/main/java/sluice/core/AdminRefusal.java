package sluice.core;

import java.util.Locale;

/** Why an operator's command (on a user, a key or a service) was refused; nothing was changed. */
public enum AdminRefusal {
  INVALID_REQUEST,
  USER_EXISTS,
  USER_NOT_FOUND,
  KEY_EXISTS,
  KEY_NOT_FOUND,
  SERVICE_NOT_FOUND,
  INVALID_SCALE,
  REPLICA_NOT_FOUND;

  /** The stable name for logs, metrics and the admin API's error code: {@code user_not_found}. */
  public String label() { return name().toLowerCase(Locale.ROOT); }
}
