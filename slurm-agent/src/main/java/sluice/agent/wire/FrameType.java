package sluice.agent.wire;

/** The frame types of the Sluice mux protocol (docs/protocol.md §3). The wire value is the ordinal byte. */
public enum FrameType {
  /** Stream body bytes; consumes the receiver's credit. FIN ends this direction. */
  DATA(0),
  /** Grants the peer more credit on one stream: payload is a u32 delta. */
  WINDOW_UPDATE(1),
  /** Session liveness and round-trip time: payload is 8 opaque bytes, SYN asks, ACK answers. */
  PING(2),
  /** The sender opens no more streams and will close the session: payload is a JSON {@link Messages.Problem}. */
  GO_AWAY(3),
  /** A call (flag SYN, client to agent) or its reply (flag ACK, agent to client): payload is JSON. */
  HEADERS(4),
  /** Aborts one stream in both directions: payload is a JSON {@link Messages.Problem}. */
  RESET(5),
  /** The first frame each side sends after the banner: payload is a JSON {@link Messages.Hello}. */
  HELLO(6);

  private final int code;

  FrameType(int code) { this.code = code; }

  public int code() { return code; }

  private static final FrameType[] BY_CODE = values();

  /** The type for a wire byte, or null when the byte names no type (a protocol error for the caller). */
  public static FrameType ofCode(int code) {
    return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
  }

  /** Session frames travel on stream 0; all others on a stream id above 0. */
  public boolean isSessionFrame() {
    return this == PING || this == GO_AWAY || this == HELLO;
  }
}
