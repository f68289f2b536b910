package sluice.agent.sched;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sluice.agent.config.SlurmTime;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * One line of {@code squeue -h -o FORMAT}: the fields as Slurm printed them, parsed leniently (a field Slurm leaves
 * as {@code N/A} becomes null), since most lines belong to other jobs of the same account and are skipped anyway.
 *
 * @param nodes the node list ({@code %N}), null while pending
 * @param timeLimitSeconds null when unlimited or unknown
 * @param start actual start, or Slurm's expected start of a pending job
 * @param end actual end, or the expected end (start + limit) of a running job
 */
public record SlurmJobLine(String id, String name, String rawState, String nodes, String comment, Long timeLimitSeconds,
                           Instant start, Instant end, String reason, Instant submit) {
  /**
   * id | name | state | nodes | comment | limit | start | end | reason | submit: fixed fields without widths (they pad).
   * A name or comment containing the delimiter makes more fields; the agent's own never contain it, so such a line is
   * someone else's and is dropped whole rather than guessed at.
   */
  public static final String FORMAT = "%i|%j|%T|%N|%k|%l|%S|%e|%r|%V";
  private static final int FIELDS = 10;

  /** Every well-formed line; squeue prints one per job, final states included with {@code -t all}. */
  public static List<SlurmJobLine> parseAll(String output, ZoneId zone) {
    List<SlurmJobLine> out = new ArrayList<>();
    for (String line : output.split("\n")) parse(line, zone).ifPresent(out::add);
    return out;
  }

  public static Optional<SlurmJobLine> parse(String line, ZoneId zone) {
    String[] f = line.strip().split("\\|", -1);
    if (f.length != FIELDS) return Optional.empty();
    return Optional.of(new SlurmJobLine(f[0], f[1], f[2], blankToNull(f[3]), f[4], limit(f[5]), time(f[6], zone),
        time(f[7], zone), f[8], time(f[9], zone)));
  }

  /** The agent's comment, if this is one of the agent's jobs: the comment decodes and the job name is its tag. */
  public Optional<SluiceComment> ours() {
    if (!id.matches("[0-9]{1,18}")) return Optional.empty();          // array and het job parts are never the agent's
    return SluiceComment.decode(comment).filter(c -> c.tag().equals(name));
  }

  public JobState state() { return state(rawState); }

  /** The job as the agent reports it; times of a job that has not started are Slurm's guesses, so they are left out. */
  public JobInfo toJobInfo(SluiceComment c) {
    JobState s = state();
    boolean started = s != JobState.PENDING;
    String why = STATES.containsKey(rawState) ? reason : "Slurm state " + rawState + ", reason " + reason;
    return new JobInfo(id, c.service(), c.tag(), s, nodes, submit, started ? start : null, started ? end : null,
        timeLimitSeconds, why, null);
  }

  /**
   * Slurm's extended state names (squeue {@code %T}) as the agent's states. States that will run again (requeued,
   * held) count as pending.
   */
  private static final Map<String, JobState> STATES = Map.ofEntries(
      Map.entry("PENDING", JobState.PENDING), Map.entry("REQUEUED", JobState.PENDING),
      Map.entry("REQUEUE_HOLD", JobState.PENDING), Map.entry("REQUEUE_FED", JobState.PENDING),
      Map.entry("RESV_DEL_HOLD", JobState.PENDING),
      Map.entry("CONFIGURING", JobState.CONFIGURING),
      Map.entry("RUNNING", JobState.RUNNING), Map.entry("RESIZING", JobState.RUNNING),
      Map.entry("COMPLETING", JobState.COMPLETING), Map.entry("SIGNALING", JobState.COMPLETING),
      Map.entry("STAGE_OUT", JobState.COMPLETING),
      Map.entry("SUSPENDED", JobState.SUSPENDED), Map.entry("STOPPED", JobState.SUSPENDED),
      Map.entry("COMPLETED", JobState.COMPLETED),
      Map.entry("FAILED", JobState.FAILED), Map.entry("SPECIAL_EXIT", JobState.FAILED),
      Map.entry("CANCELLED", JobState.CANCELLED), Map.entry("REVOKED", JobState.CANCELLED),
      Map.entry("TIMEOUT", JobState.TIMEOUT),
      Map.entry("NODE_FAIL", JobState.NODE_FAIL),
      Map.entry("OUT_OF_MEMORY", JobState.OUT_OF_MEMORY),
      Map.entry("PREEMPTED", JobState.PREEMPTED),
      Map.entry("BOOT_FAIL", JobState.BOOT_FAIL),
      Map.entry("DEADLINE", JobState.DEADLINE));

  /**
   * A state this version does not know counts as pending: not ended (so the gateway does not start a replacement for
   * a job that may still run) and not running (so no traffic goes to it).
   */
  public static JobState state(String raw) {
    return STATES.getOrDefault(raw == null ? "" : raw.strip(), JobState.PENDING);
  }

  /** squeue's {@code %S}/{@code %e}/{@code %V}: local {@code YYYY-MM-DDTHH:MM:SS}, or N/A, Unknown, None. */
  static Instant time(String text, ZoneId zone) {
    String t = text.strip();
    if (t.isEmpty() || t.equals("N/A") || t.equals("Unknown") || t.equals("None") || t.equals("(null)")) return null;
    try {
      return LocalDateTime.parse(t).atZone(zone).toInstant();
    } catch (DateTimeParseException e) {
      return null;
    }
  }

  /** {@code %l}: Slurm time syntax incl. days, or UNLIMITED/NOT_SET (null). */
  static Long limit(String text) {
    try {
      return SlurmTime.parse(text).map(Duration::getSeconds).orElse(null);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static String blankToNull(String s) {
    String t = s.strip();
    return t.isEmpty() || t.equals("(null)") || t.equals("None assigned") ? null : t;
  }

  /**
   * The first host of a Slurm host list: where the batch script, and so the model server, runs.
   * {@code gpu[07-09,12]-ib,cpu1} → {@code gpu07-ib}; {@code node5} → {@code node5}.
   */
  public static String firstNode(String nodes) {
    if (nodes == null) return null;
    StringBuilder host = new StringBuilder();
    String n = nodes.strip();
    for (int i = 0; i < n.length(); i++) {
      char ch = n.charAt(i);
      if (ch == ',') break;                                    // a comma outside brackets ends the first entry
      if (ch != '[') {
        host.append(ch);
        continue;
      }
      int close = n.indexOf(']', i);
      if (close < 0) return null;
      host.append(n.substring(i + 1, close).split("[,-]", 2)[0]);   // the first number of the range
      i = close;
    }
    return host.length() == 0 ? null : host.toString();
  }

  /** {@code sbatch --parsable} prints {@code jobid} or {@code jobid;cluster}. */
  public static Optional<String> parseSubmitted(String stdout) {
    String[] lines = stdout.strip().split("\n");
    String out = lines[lines.length - 1].strip();
    int semi = out.indexOf(';');
    String id = semi < 0 ? out : out.substring(0, semi);
    return id.matches("[0-9]{1,18}") ? Optional.of(id) : Optional.empty();
  }
}
