package sluice.edge.cli;

import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.format.DateTimeParseException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import sluice.core.config.CoreSettings;

/** The values the admin CLI accepts, each checked before anything is sent. */
final class Args {
  /** Admin-created ids, and ids taken from a JWT's claims (e-mail addresses, issuer-prefixed subjects). */
  private static final Pattern ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}");
  /** Groups may also hold '/', as OIDC group paths do ("/org/unit"); the admin API accepts the same. */
  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9/][A-Za-z0-9._@:/+-]{0,127}");
  private static final Pattern KEY_ID = Pattern.compile("key_[A-Za-z0-9_-]{1,124}");
  private static final Pattern LIFETIME = Pattern.compile("([0-9]{1,7})([mhd])");
  static final Duration MAX_LIFETIME = Duration.ofDays(3650);

  private Args() {}

  record UserId(String value) {
    UserId {
      if (value == null || !ID.matcher(value).matches()) {
        throw new IllegalArgumentException("invalid user id '" + value + "': letters, digits and . _ @ : + - (at most 128, "
            + "starting with a letter, digit or /)");
      }
    }

    @Override public String toString() { return value; }
  }

  record Group(String value) {
    Group {
      if (value == null || !GROUP.matcher(value).matches()) {
        throw new IllegalArgumentException("invalid group '" + value + "': letters, digits and . _ @ : / + - (at most 128, "
            + "starting with a letter, digit or /)");
      }
    }
  }

  record Model(String value) {
    Model {
      if (value == null || !CoreSettings.SERVICE_ID.matcher(value).matches()) {
        throw new IllegalArgumentException("invalid model '" + value + "': letters, digits and . _ - (at most 128, "
            + "starting with a letter, digit or /)");
      }
    }
  }

  /** A key's id as the admin API shows it; never its secret. */
  record KeyId(String value) {
    KeyId {
      if (value != null && value.startsWith("sk-")) {
        // the secret was pasted: do not echo it back
        throw new IllegalArgumentException("that is a key's secret, not its id: revoke takes the id (key_...) shown by "
            + "'keys create' and 'users get'");
      }
      if (value == null || !KEY_ID.matcher(value).matches()) {
        throw new IllegalArgumentException("invalid key id '" + value + "': expected key_ followed by letters, digits, _ or -");
      }
    }

    @Override public String toString() { return value; }
  }

  record KeyName(String value) {
    KeyName {
      if (value == null || value.isBlank() || value.length() > 64 || value.codePoints().anyMatch(Character::isISOControl)) {
        throw new IllegalArgumentException("invalid key name: 1 to 64 characters, no control characters");
      }
    }
  }

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

  /** A bound of a usage query: an instant, or a date (UTC), passed on as written. */
  record TimeBound(String text, Instant instant, LocalDate date) {
    static TimeBound parse(String text) {
      try {
        return new TimeBound(text, null, LocalDate.parse(text));
      } catch (DateTimeParseException notADate) {
        try {
          return new TimeBound(text, Instant.parse(text), null);
        } catch (DateTimeParseException e) {
          throw new IllegalArgumentException("invalid time '" + text + "': expected a date (2026-11-01) or an ISO-8601 "
              + "instant in UTC (2026-11-01T00:00:00Z)");
        }
      }
    }

    /** True when both are instants or both are dates and this one is later: a range that can hold nothing. */
    boolean after(TimeBound other) {
      if (date != null && other.date != null) return date.isAfter(other.date);
      if (instant != null && other.instant != null) return instant.isAfter(other.instant);
      return false;
    }
  }
}
