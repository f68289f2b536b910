package sluice.persistence.usage;

import java.time.Instant;
import java.util.Objects;
import java.util.Optional;

/**
 * Which usage records a query covers; every present part must match.
 *
 * @param from inclusive
 * @param to   exclusive, so consecutive periods ({@code [day1, day2)}, {@code [day2, day3)}) never count a request twice
 */
public record UsageFilter(Optional<String> user, Optional<String> model, Optional<Instant> from, Optional<Instant> to) {
  /** Most records one query lists (the admin API's {@code limit}, the CLI's {@code --limit}). */
  public static final int MAX_RECORDS = 10_000;

  public UsageFilter {
    Objects.requireNonNull(user, "user must be an Optional");
    Objects.requireNonNull(model, "model must be an Optional");
    Objects.requireNonNull(from, "from must be an Optional");
    Objects.requireNonNull(to, "to must be an Optional");
    user.ifPresent(u -> nonBlank("user", u));
    model.ifPresent(m -> nonBlank("model", m));
    if (from.isPresent() && to.isPresent() && !from.get().isBefore(to.get())) {
      throw new IllegalArgumentException("from (" + from.get() + ") must be before to (" + to.get() + ")");
    }
  }

  /** Everything. */
  public static UsageFilter all() { return new UsageFilter(Optional.empty(), Optional.empty(), Optional.empty(), Optional.empty()); }

  /** From optional query parameters: null means "any". */
  public static UsageFilter of(String user, String model, Instant from, Instant to) {
    return new UsageFilter(Optional.ofNullable(user), Optional.ofNullable(model), Optional.ofNullable(from), Optional.ofNullable(to));
  }

  private static void nonBlank(String name, String value) {
    if (value.isBlank()) throw new IllegalArgumentException(name + " must not be blank");
    if (value.length() > UsageRecord.MAX_TEXT) {
      throw new IllegalArgumentException(name + " is longer than " + UsageRecord.MAX_TEXT + " characters");
    }
  }
}
