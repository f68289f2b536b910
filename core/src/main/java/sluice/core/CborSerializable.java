package sluice.core;

/**
 * Marker for every message, event and state that may be persisted or cross nodes: bound to Jackson CBOR in core's
 * reference.conf, so every ActorSystem (test kits included) serializes them the same way.
 */
public interface CborSerializable {}
