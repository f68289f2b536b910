package sluice.edge;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;

/**
 * A time as the admin API and CLI accept it: an ISO-8601 instant ({@code 2026-11-01T09:30:00Z}) or a date in UTC
 * ({@code 2026-11-01}), which starts at its midnight and, as the end of a range, includes its whole day. Only the
 * years 1 to 9999 are times: Java parses years up to a billion, which no database column holds.
 *
 * @param text as written (the CLI passes it on unchanged)
 */
public record TimeBound(String text, Instant instant, LocalDate date) {
  private static final LocalDate FIRST = LocalDate.of(1, 1, 1);
  private static final LocalDate LAST = LocalDate.of(9999, 12, 31);

  public static TimeBound parse(String text) {
    TimeBound t;
    try {
      t = new TimeBound(text, null, LocalDate.parse(text));
    } catch (DateTimeParseException notADate) {
      try {
        t = new TimeBound(text, Instant.parse(text), null);
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("invalid time '" + text + "': expected a date (2026-11-01) or an ISO-8601 instant"
            + " in UTC (2026-11-01T00:00:00Z)");
      }
    }
    if (t.start().isBefore(FIRST.atStartOfDay(ZoneOffset.UTC).toInstant())
        || !t.start().isBefore(LAST.plusDays(1).atStartOfDay(ZoneOffset.UTC).toInstant())) {
      throw new IllegalArgumentException("time '" + text + "' is out of range: from " + FIRST + " to " + LAST);
    }
    return t;
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
