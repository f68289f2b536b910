package sluice.agent.wire;

/** Stable problem codes used in RESET, GO_AWAY and error replies (docs/protocol.md §6). */
public final class Codes {
  private Codes() {}

  /** GO_AWAY: orderly shutdown. */
  public static final String NORMAL = "normal";
  /** GO_AWAY: the peer sent something no conforming peer sends; the session closes. */
  public static final String PROTOCOL_ERROR = "protocol_error";
  /** GO_AWAY or RESET: the sender failed internally. */
  public static final String INTERNAL = "internal";
  /** RESET: the consumer lost interest (client disconnected). */
  public static final String CANCELLED = "cancelled";
  /** RESET: too many open streams, or the session is going away; safe to retry elsewhere. */
  public static final String REFUSED = "refused";
  /** RESET: the call head is malformed. */
  public static final String BAD_REQUEST = "bad_request";
  /** RESET: the peer sent more DATA than its credit allowed. */
  public static final String FLOW_CONTROL = "flow_control";
  /** RESET: a frame arrived for a half of the stream that was already closed. */
  public static final String STREAM_CLOSED = "stream_closed";
  /** Local only: the session ended while the stream was open. */
  public static final String SESSION_CLOSED = "session_closed";
  /** Error reply or RESET: the model server failed or went away. */
  public static final String UPSTREAM = "upstream_error";
}
