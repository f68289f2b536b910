package sluice.core.user;

import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;

/** Which user a key belongs to: the in-memory key index's answer for a presented key's digest or a key id. */
public record KeyRef(UserId userId, KeyId keyId) {}
