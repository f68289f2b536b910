package sluice.edge.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The values of the admin CLI that are its own (ids, groups, models and times are the gateway's own types in
 * {@code sluice.core.ids} and {@link sluice.edge.TimeBound}), each checked before anything is sent.
 */
final class Args {
  private static final Pattern LIFETIME = Pattern.compile("([0-9]{1,7})([mhd])");
  static final Duration MAX_LIFETIME = Duration.ofDays(3650);

  private Args() {}

  /** How long a new key lives: {@code 90m}, {@code 12h}, {@code 30d}. */
  record Lifetime(Duration duration) {
    Lifetime {
      if (duration == null || duration.isNegative() || duration.isZero() || duration.compareTo(MAX_LIFETIME) > 0) {
        throw new IllegalArgumentException("a key's lifetime must be more than 0 and at most 3650d");
      }
    }

    static Lifetime parse(String text) {
      Matcher m = LIFETIME.matcher(text);
      if (!m.matches()) throw new IllegalArgumentException("invalid duration '" + text + "': a number and m, h or d (90m, 12h, 30d)");
      long n = Long.parseLong(m.group(1));
      return new Lifetime(switch (m.group(2)) {
        case "m" -> Duration.ofMinutes(n);
        case "h" -> Duration.ofHours(n);
        default -> Duration.ofDays(n);
      });
    }
  }

  static Instant instant(String text) {
    try {
      return Instant.parse(text);
    } catch (DateTimeParseException e) {
      throw new IllegalArgumentException("invalid instant '" + text + "': expected ISO-8601 in UTC, e.g. 2026-12-31T00:00:00Z");
    }
  }
}
