package sluice.agent.sched;

import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What the agent writes into a Slurm job's {@code --comment}, so that a later {@code squeue} (from this or another
 * agent process, or after the state folder was lost) recognises the job as its own and knows where its model server
 * listens: {@code sluice/1 service=<id> tag=<tag> port=<port>}. Strict both ways: a comment with anything more, less
 * or different belongs to someone else.
 */
public record SluiceComment(String service, String tag, int port) {
  static final Pattern TOKEN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern FORMAT = Pattern.compile(
      "sluice/1 service=(" + TOKEN.pattern() + ") tag=(" + TOKEN.pattern() + ") port=([1-9][0-9]{0,4})");

  public SluiceComment {
    if (service == null || !TOKEN.matcher(service).matches()) throw new IllegalArgumentException("bad service: " + service);
    if (tag == null || !TOKEN.matcher(tag).matches()) throw new IllegalArgumentException("bad tag: " + tag);
    if (port < 1 || port > 65535) throw new IllegalArgumentException("bad port: " + port);
  }

  public String encode() {
    return "sluice/1 service=" + service + " tag=" + tag + " port=" + port;
  }

  public static Optional<SluiceComment> decode(String comment) {
    if (comment == null) return Optional.empty();
    Matcher m = FORMAT.matcher(comment);
    if (!m.matches()) return Optional.empty();
    int port = Integer.parseInt(m.group(3));
    return port > 65535 ? Optional.empty() : Optional.of(new SluiceComment(m.group(1), m.group(2), port));
  }
}
