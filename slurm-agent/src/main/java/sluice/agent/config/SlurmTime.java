package sluice.agent.config;

import java.time.Duration;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Slurm's time syntax, used for time limits here and in squeue output: {@code M}, {@code M:S}, {@code H:M:S},
 * {@code D-H}, {@code D-H:M}, {@code D-H:M:S}, and {@code UNLIMITED}/{@code INFINITE}/{@code NOT_SET}
 * (empty result: no limit). SAIA's parser crashes on the day forms; this one accepts every form sbatch accepts.
 */
public final class SlurmTime {
  private SlurmTime() {}

  private static final Pattern WITH_DAYS = Pattern.compile("(\\d+)-(\\d+)(?::(\\d+))?(?::(\\d+))?");
  private static final Pattern WITHOUT_DAYS = Pattern.compile("(\\d+)(?::(\\d+))?(?::(\\d+))?");

  public static Optional<Duration> parse(String text) {
    if (text == null) throw new IllegalArgumentException("time is required");
    String t = text.trim();
    if (t.equalsIgnoreCase("UNLIMITED") || t.equalsIgnoreCase("INFINITE") || t.equalsIgnoreCase("NOT_SET")) {
      return Optional.empty();
    }
    Matcher d = WITH_DAYS.matcher(t);
    if (d.matches()) {
      long seconds = days(d.group(1)) + hours(d.group(2)) + minutes(d.group(3)) + secs(d.group(4));
      return Optional.of(Duration.ofSeconds(seconds));
    }
    Matcher m = WITHOUT_DAYS.matcher(t);
    if (m.matches()) {
      long seconds;
      if (m.group(3) != null) seconds = hours(m.group(1)) + minutes(m.group(2)) + secs(m.group(3));   // H:M:S
      else if (m.group(2) != null) seconds = minutes(m.group(1)) + secs(m.group(2));                  // M:S
      else seconds = minutes(m.group(1));                                                             // M
      return Optional.of(Duration.ofSeconds(seconds));
    }
    throw new IllegalArgumentException("not a Slurm time (M, M:S, H:M:S, D-H, D-H:M, D-H:M:S, UNLIMITED): " + text);
  }

  /** Formats for sbatch's {@code --time} as D-HH:MM:SS (Slurm itself rounds up to whole minutes). */
  public static String format(Duration d) {
    long s = d.getSeconds();
    return String.format("%d-%02d:%02d:%02d", s / 86400, s % 86400 / 3600, s % 3600 / 60, s % 60);
  }

  private static long days(String g) { return num(g) * 86400; }
  private static long hours(String g) { return num(g) * 3600; }
  private static long minutes(String g) { return num(g) * 60; }
  private static long secs(String g) { return num(g); }

  private static long num(String g) {
    if (g == null) return 0;
    if (g.length() > 9) throw new IllegalArgumentException("time component too large: " + g);
    return Long.parseLong(g);
  }
}
