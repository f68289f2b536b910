package sluice.agent.config;

import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Parses the agent config's durations: a number and a unit (ms, s, m, h, d), as in HOCON. */
public final class Durations {
  private Durations() {}

  private static final Pattern FORMAT = Pattern.compile("\\s*(\\d{1,9})\\s*(ms|s|m|h|d)\\s*");

  public static Duration parse(String text) {
    Matcher m = text == null ? null : FORMAT.matcher(text);
    if (m == null || !m.matches()) throw new IllegalArgumentException("not a duration (e.g. 500ms, 5s, 10m, 1h): " + text);
    long n = Long.parseLong(m.group(1));
    return switch (m.group(2)) {
      case "ms" -> Duration.ofMillis(n);
      case "s" -> Duration.ofSeconds(n);
      case "m" -> Duration.ofMinutes(n);
      case "h" -> Duration.ofHours(n);
      default -> Duration.ofDays(n);
    };
  }
}
