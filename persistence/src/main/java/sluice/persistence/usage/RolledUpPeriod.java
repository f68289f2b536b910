package sluice.persistence.usage;

import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;

/**
 * A period that starts or ends inside a day whose records were folded into daily totals ({@link UsageRollUp}): its
 * totals cannot be known exactly, so the query is refused rather than answered for a wider or narrower period.
 */
public final class RolledUpPeriod extends Exception {
  private static final long serialVersionUID = 1L;
  private final String bound;

  /** @param bound "from" or "to"; @param at its value, inside {@code day} */
  RolledUpPeriod(String bound, Instant at, LocalDate day) {
    super("the usage of " + day + " is kept only as daily totals (sluice.usage.retention), so '" + bound + "' cannot be "
        + at + ", inside that day: use a date or a UTC midnight (" + midnight(day) + " or " + midnight(day.plusDays(1)) + ")");
    this.bound = bound;
  }

  private static Instant midnight(LocalDate day) { return day.atStartOfDay(ZoneOffset.UTC).toInstant(); }

  /** Which bound of the filter: "from" or "to". */
  public String bound() { return bound; }
}
