package sluice.agent.wire;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.annotation.JsonSubTypes;
import com.fasterxml.jackson.annotation.JsonTypeInfo;
import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * The JSON payloads of HELLO, HEADERS, RESET and GO_AWAY frames. Everything the gateway sends is validated here on
 * decode, so the agent never acts on a value outside these shapes; the agent's own config then decides what is allowed.
 */
public final class Messages {
  private Messages() {}

  /** Service names, job ids and tags are short tokens: no paths, no spaces, no shell metacharacters. */
  static final Token SERVICE = Token.of(1, 128, "[A-Za-z0-9]", "[A-Za-z0-9._-]");
  static final Token JOB_ID = Token.of(1, 18, "[0-9]");
  static final Token TAG = Token.of(1, 128, "[A-Za-z0-9]", "[A-Za-z0-9._-]");
  static final Token REQUEST_ID = Token.of(1, 128, "[A-Za-z0-9._:-]");
  static final Set<String> METHODS = Set.of("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS");
  /**
   * An origin-form path with an optional query: {@code /} and up to 2,047 of {@link #PATH_SEGMENTS}, then optionally
   * {@code ?} and up to 2,047 of {@link #QUERY}. No scheme, no authority, no spaces or control characters; dot segments
   * are refused separately.
   */
  static final Token PATH_SEGMENTS = Token.of(0, 2047, "[A-Za-z0-9._~!$&'()*+,;=:@%/-]");
  static final Token QUERY = Token.of(0, 2047, "[A-Za-z0-9._~!$&'()*+,;=:@%/?-]");
  static final Token HEADER_NAME = Token.of(1, 64, "[a-z0-9-]");
  static final int MAX_HEADERS = 32;
  static final int MAX_HEADER_VALUE = 1024;
  /** Lines a {@link Logs} call may ask for, and what it gets when it names no number. */
  public static final int MAX_LOG_LINES = 200;
  public static final int DEFAULT_LOG_LINES = 50;

  static String require(String field, String value, Predicate<String> wellFormed) {
    if (value == null) throw new IllegalArgumentException(field + " is required");
    if (!wellFormed.test(value)) throw new IllegalArgumentException(field + " is malformed");
    return value;
  }

  static boolean isPath(String p) {
    if (p.isEmpty() || p.charAt(0) != '/') return false;
    int q = p.indexOf('?');
    return q < 0 ? PATH_SEGMENTS.matches(p, 1, p.length())
        : PATH_SEGMENTS.matches(p, 1, q) && QUERY.matches(p, q + 1, p.length());
  }

  /** A header value may hold tabs but no other control character (no CR/LF: no header injection). */
  static boolean hasControlCharacter(String v) {
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c < 0x20 && c != '\t' || c == 0x7f) return true;
    }
    return false;
  }

  /** First frame of each side after the banner. */
  public record Hello(int protocol, String software, int maxStreams, int initialWindow, int maxDataFrame) {}

  /**
   * Why a stream was reset or the session is going away: a stable machine-readable code and a human message. On the
   * wire {@code {"code":"job_not_running","message":"..."}}, the code as its {@link ProblemCode#wire() wire string}.
   */
  public record Problem(ProblemCode code, String message) {
    static final int MAX_MESSAGE = 1000;

    public Problem {
      if (code == null) code = ProblemCode.INTERNAL;
      if (message == null) message = "";
      if (message.length() > MAX_MESSAGE) message = message.substring(0, MAX_MESSAGE);
    }

    /**
     * Decoding. A missing or blank code is {@code internal}, as it always was. A code this version does not know
     * becomes {@link ProblemCode#UNRECOGNIZED}, and the message keeps the raw code in front, so whoever reads the log
     * still sees what the peer meant.
     */
    @JsonCreator static Problem decode(@JsonProperty("code") String code, @JsonProperty("message") String message) {
      if (code == null || code.isBlank()) return new Problem(ProblemCode.INTERNAL, message);
      ProblemCode known = ProblemCode.fromWire(code);
      if (known != ProblemCode.UNRECOGNIZED || code.equals(known.wire())) return new Problem(known, message);
      return new Problem(known, message == null || message.isEmpty() ? code : code + ": " + message);
    }
  }

  /** A call opens a stream (HEADERS + SYN). Control calls carry everything in the head and send FIN with it. */
  @JsonTypeInfo(use = JsonTypeInfo.Id.NAME, property = "op")
  @JsonSubTypes({
      @JsonSubTypes.Type(value = Submit.class, name = "submit"),
      @JsonSubTypes.Type(value = ListJobs.class, name = "jobs"),
      @JsonSubTypes.Type(value = Cancel.class, name = "cancel"),
      @JsonSubTypes.Type(value = Probe.class, name = "probe"),
      @JsonSubTypes.Type(value = Logs.class, name = "logs"),
      @JsonSubTypes.Type(value = Forward.class, name = "http")})
  public sealed interface Call permits Submit, ListJobs, Cancel, Probe, Logs, Forward {}

  /** Submit one job of a configured service. The tag is the gateway's idempotency key, stored with the job. */
  public record Submit(String service, String tag) implements Call {
    public Submit {
      require("service", service, SERVICE::matches);
      require("tag", tag, TAG::matches);
    }
  }

  /** All jobs this agent submitted that the scheduler still knows, final states included. */
  public record ListJobs() implements Call {}

  /** Cancel a job this agent submitted. */
  public record Cancel(String job) implements Call {
    public Cancel { require("job", job, JOB_ID::matches); }
  }

  /** Ask the job's model server for its health path and report whether it is ready. */
  public record Probe(String service, String job) implements Call {
    public Probe {
      require("service", service, SERVICE::matches);
      require("job", job, JOB_ID::matches);
    }
  }

  /**
   * The last {@code lines} lines of a job's output file. Only the job is named: the agent picks the file itself, so
   * the gateway can never make it read anything else.
   */
  public record Logs(String service, String job, int lines) implements Call {
    public Logs {
      require("service", service, SERVICE::matches);
      require("job", job, JOB_ID::matches);
      if (lines < 1 || lines > MAX_LOG_LINES) throw new IllegalArgumentException("lines must be in [1, " + MAX_LOG_LINES + "]");
    }

    /** Decoding: an absent {@code lines} means the default, while an explicit 0 is as invalid as 201. */
    @JsonCreator static Logs decode(@JsonProperty("service") String service, @JsonProperty("job") String job,
                                    @JsonProperty("lines") Integer lines) {
      return new Logs(service, job, lines == null ? DEFAULT_LOG_LINES : lines);
    }
  }

  /** An HTTP request to the model server of a job; the body follows as DATA frames, then FIN. */
  public record Forward(String service, String job, String method, String path, Map<String, String> headers,
                        String requestId) implements Call {
    public Forward {
      require("service", service, SERVICE::matches);
      require("job", job, JOB_ID::matches);
      require("method", method, METHODS::contains);
      require("path", path, Messages::isPath);
      if (path.contains("/../") || path.endsWith("/..") || path.contains("/./")) {
        throw new IllegalArgumentException("path must not contain dot segments");
      }
      if (requestId != null) require("requestId", requestId, REQUEST_ID::matches);
      headers = headers == null ? Map.of() : Map.copyOf(headers);
      if (headers.size() > MAX_HEADERS) throw new IllegalArgumentException("too many headers");
      headers.forEach((k, v) -> {
        require("header name", k, HEADER_NAME::matches);
        if (v == null || v.length() > MAX_HEADER_VALUE || hasControlCharacter(v)) {
          throw new IllegalArgumentException("header " + k + " has a malformed value");
        }
      });
    }
  }

  /**
   * The agent's answer (HEADERS + ACK). For a forwarded request: the model server's status and allow-listed headers,
   * with the body following as DATA. For a control call: {@code result}, with FIN. A refusal carries {@code error}.
   */
  public record Reply(int status, Map<String, String> headers, JsonNode result, Problem error) {
    public Reply {
      if (status < 100 || status > 599) throw new IllegalArgumentException("status out of range: " + status);
      headers = headers == null ? Map.of() : Map.copyOf(headers);
    }

    public static Reply ok(JsonNode result) { return new Reply(200, Map.of(), result, null); }

    public static Reply error(int status, ProblemCode code, String message) {
      return new Reply(status, Map.of(), null, new Problem(code, message));
    }

    public boolean hasError() { return error != null; }
  }

  /** Slurm's job states (the extended %T names); local jobs use the same subset. */
  public enum JobState {
    PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED,
    COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE,
    /** The scheduler no longer knows the job and no final state was recorded. */
    UNKNOWN;

    public boolean isFinal() {
      return switch (this) {
        case PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED -> false;
        default -> true;
      };
    }
  }

  /**
   * What the agent knows about one of its jobs.
   *
   * @param timeLimitSeconds the job's time limit, or null when unlimited
   * @param endTime actual end, or the expected end of a running job (start + limit), or null
   */
  public record JobInfo(String id, String service, String tag, JobState state, String node, Instant submitTime,
                        Instant startTime, Instant endTime, Long timeLimitSeconds, String reason, Integer exitCode) {}

  public record JobList(List<JobInfo> jobs) {
    public JobList { jobs = List.copyOf(jobs); }
  }

  /** Result of a probe: ready when the health path answered 2xx. */
  /**
   * A job's health check. {@code timedOut}: its model server did not answer within the agent's probe-timeout (slow or
   * hung), as opposed to answering an error or refusing the connection. Absent from agents older than the field: false.
   */
  public record ProbeResult(boolean ready, int status, String detail, boolean timedOut) {
    @JsonCreator static ProbeResult decode(@JsonProperty("ready") boolean ready, @JsonProperty("status") int status,
                                           @JsonProperty("detail") String detail, @JsonProperty("timedOut") Boolean timedOut) {
      return new ProbeResult(ready, status, detail, Boolean.TRUE.equals(timedOut));
    }
  }

  public record CancelResult(String job, boolean cancelled, JobState state) {}

  /**
   * Result of a logs call: the last lines of the job's output, oldest first, with the job's secret masked.
   *
   * @param truncated whether part of the file is missing from {@code lines}: earlier output, or the ends of lines
   *     longer than the agent's line limit
   */
  public record LogsResult(String job, List<String> lines, boolean truncated) {
    public LogsResult { lines = List.copyOf(lines); }
  }
}
