package sluice.edge;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * A time as the admin API and CLI accept it: an ISO-8601 instant ({@code 2026-11-01T09:30:00Z}) or a date in UTC
 * ({@code 2026-11-01}), which starts at its midnight and, as the end of a range, includes its whole day.
 *
 * @param text as written (the CLI passes it on unchanged)
 */
public record TimeBound(String text, Instant instant, LocalDate date) {
  public static TimeBound parse(String text) {
    try {
      return new TimeBound(text, null, LocalDate.parse(text));
    } catch (DateTimeParseException notADate) {
      try {
        return new TimeBound(text, Instant.parse(text), null);
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("invalid time '" + text + "': expected a date (2026-11-01) or an ISO-8601 instant"
            + " in UTC (2026-11-01T00:00:00Z)");
      }
    }
  }

  /** Where a range starting here starts: the instant, or the date's midnight. */
  public Instant start() { return instant != null ? instant : date.atStartOfDay(ZoneOffset.UTC).toInstant(); }

  /** Where a range ending here ends (exclusive): the instant, or the next midnight, so the whole date is included. */
  public Instant end() { return instant != null ? instant : date.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant(); }

  /** True when both are instants or both are dates and this one is later: a range that can hold nothing. */
  public boolean after(TimeBound other) {
    if (date != null && other.date != null) return date.isAfter(other.date);
    if (instant != null && other.instant != null) return instant.isAfter(other.instant);
    return false;
  }
}
