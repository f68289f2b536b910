package sluice.agent.wire;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.Arrays;
import java.util.Map;
import java.util.function.Function;
import java.util.stream.Collectors;

/**
 * Every problem code of the protocol (docs/protocol.md §6), in RESET, GO_AWAY and error replies, with its exact wire
 * string. Local codes never travel: they say why a session or a stream ended on this side.
 */
public enum ProblemCode {
  /** GO_AWAY: orderly shutdown. */
  NORMAL("normal"),
  /** GO_AWAY: the peer sent something no conforming peer sends; the session closes. */
  PROTOCOL_ERROR("protocol_error"),
  /** GO_AWAY or RESET: the sender failed internally. */
  INTERNAL("internal"),
  /** RESET: the consumer lost interest (client disconnected). */
  CANCELLED("cancelled"),
  /** RESET: too many open streams, or the session is going away; safe to retry elsewhere. */
  REFUSED("refused"),
  /** RESET or error reply: the call (or the reply head) is malformed or invalid. */
  BAD_REQUEST("bad_request"),
  /** RESET: the peer sent more DATA than its credit allowed. */
  FLOW_CONTROL("flow_control"),
  /** RESET: a frame arrived for a half of the stream that was already closed. */
  STREAM_CLOSED("stream_closed"),
  /** Error reply or RESET: the model server failed, timed out (reply 504) or broke off its response. */
  UPSTREAM_ERROR("upstream_error"),
  /** Error reply 404: the service is not in the agent's config. */
  UNKNOWN_SERVICE("unknown_service"),
  /** Error reply 404: the job was not submitted by this agent for this service. */
  UNKNOWN_JOB("unknown_job"),
  /** Error reply 409: the job is not running, yet or any more. */
  JOB_NOT_RUNNING("job_not_running"),
  /** Error reply 403: method or path outside the service's allow-list. */
  PATH_NOT_ALLOWED("path_not_allowed"),
  /** Error reply 503: sbatch, squeue or scancel (or the local scheduler) failed. */
  SCHEDULER_ERROR("scheduler_error"),
  /** Local: the session ended while the stream was open. */
  SESSION_CLOSED("session_closed", true),
  /** Local: the session ended because the peer closed the pipe, between frames or inside one. */
  EOF("eof", true),
  /** Local: the session ended because reading or writing the pipe failed. */
  IO_ERROR("io_error", true),
  /**
   * Local: the peer sent a code this version does not know (a newer peer). The problem's message starts with the raw
   * code, so it is not lost; callers treat it like any other failure of the peer.
   */
  UNRECOGNIZED("unrecognized", true);

  private static final Map<String, ProblemCode> BY_WIRE =
      Arrays.stream(values()).collect(Collectors.toUnmodifiableMap(ProblemCode::wire, Function.identity()));

  private final String wire;
  private final boolean local;

  ProblemCode(String wire) { this(wire, false); }

  ProblemCode(String wire, boolean local) {
    this.wire = wire;
    this.local = local;
  }

  /** The code as it travels in JSON: {@code job_not_running}. */
  @JsonValue public String wire() { return wire; }

  /** Whether the code only names an end seen on this side and is never sent to the peer. */
  public boolean isLocal() { return local; }

  /**
   * The code for a wire string. One this version does not know is {@link #UNRECOGNIZED}, never an error: a newer peer
   * may send codes an older one has never heard of, and that must not end the session.
   */
  @JsonCreator public static ProblemCode fromWire(String wire) {
    return wire == null ? UNRECOGNIZED : BY_WIRE.getOrDefault(wire, UNRECOGNIZED);
  }

  /** The wire string, so logs and exception messages name a code as the peer sees it. */
  @Override public String toString() { return wire; }
}
