package sluice.core.user;

import sluice.core.CborSerializable;

/** The answer to an admin command on a user. */
public sealed interface UserReply extends CborSerializable {

  record Done(UserView user) implements UserReply {}

  /** Codes: user_exists (409), user_not_found, key_not_found (404), key_exists (409), invalid_request (400). */
  record Refused(String code, String message) implements UserReply {}
}
