package sluice.core.user;

import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;

/** The answer to an admin command on a user. */
public sealed interface UserReply extends CborSerializable {

  record Done(UserView user) implements UserReply {}

  /** Nothing changed: user_exists, user_not_found, key_exists, key_not_found or invalid_request, and why. */
  record Refused(AdminRefusal reason, String message) implements UserReply {}
}
