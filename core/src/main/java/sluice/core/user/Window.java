package sluice.core.user;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.temporal.ChronoUnit;
import java.util.Locale;

/**
 * A rate-limit window: fixed calendar periods in UTC, so that a window's reset time is the same on every gateway node
 * and can be told to the client exactly ({@code x-ratelimit-reset-*}). The month is the calendar month.
 */
public enum Window {
  MINUTE, HOUR, DAY, MONTH;

  /** The name used in configs, the admin API and response headers: minute, hour, day, month. */
  public String label() { return name().toLowerCase(Locale.ROOT); }

  public static Window fromLabel(String label) {
    for (Window w : values()) if (w.label().equals(label)) return w;
    throw new IllegalArgumentException("unknown window '" + label + "' (minute, hour, day or month)");
  }

  /** Start of the window that contains {@code now}. */
  public Instant start(Instant now) {
    ZonedDateTime t = now.atZone(ZoneOffset.UTC);
    return switch (this) {
      case MINUTE -> t.truncatedTo(ChronoUnit.MINUTES).toInstant();
      case HOUR -> t.truncatedTo(ChronoUnit.HOURS).toInstant();
      case DAY -> t.truncatedTo(ChronoUnit.DAYS).toInstant();
      case MONTH -> LocalDate.of(t.getYear(), t.getMonth(), 1).atStartOfDay(ZoneOffset.UTC).toInstant();
    };
  }

  /** End (exclusive) of the window that contains {@code now}: when its counters reset. */
  public Instant end(Instant now) {
    ZonedDateTime s = start(now).atZone(ZoneOffset.UTC);
    return switch (this) {
      case MINUTE -> s.plusMinutes(1).toInstant();
      case HOUR -> s.plusHours(1).toInstant();
      case DAY -> s.plusDays(1).toInstant();
      case MONTH -> s.plusMonths(1).toInstant();
    };
  }
}
