package sluice.core.user;

/** Which user a key belongs to: the in-memory key index's answer for a presented key's digest or a key id. */
public record KeyRef(String userId, String keyId) {}
