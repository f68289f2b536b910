package sluice.core.user;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
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

  /**
   * Start of the window that contains {@code now}. Computed from epoch seconds and {@link LocalDateTime} with a fixed
   * offset: {@code Instant.atZone(ZoneOffset.UTC)} builds new zone rules (with a map inside) on every call, which the
   * admission path does several times per request.
   */
  public Instant start(Instant now) {
    long s = now.getEpochSecond();
    return switch (this) {
      case MINUTE -> Instant.ofEpochSecond(Math.floorDiv(s, 60L) * 60L);
      case HOUR -> Instant.ofEpochSecond(Math.floorDiv(s, 3600L) * 3600L);
      case DAY -> Instant.ofEpochSecond(Math.floorDiv(s, 86400L) * 86400L);
      case MONTH -> {
        LocalDate d = LocalDateTime.ofEpochSecond(s, 0, ZoneOffset.UTC).toLocalDate();
        yield LocalDate.of(d.getYear(), d.getMonth(), 1).atStartOfDay().toInstant(ZoneOffset.UTC);
      }
    };
  }

  /** End (exclusive) of the window that contains {@code now}: when its counters reset. */
  public Instant end(Instant now) {
    Instant start = start(now);
    return switch (this) {
      case MINUTE -> start.plusSeconds(60);
      case HOUR -> start.plusSeconds(3600);
      case DAY -> start.plusSeconds(86400);
      case MONTH -> LocalDateTime.ofEpochSecond(start.getEpochSecond(), 0, ZoneOffset.UTC).plusMonths(1).toInstant(ZoneOffset.UTC);
    };
  }
}
