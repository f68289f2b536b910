package sluice.core.policy;

import java.time.Duration;

/** Exponential backoff between {@code min} and {@code max}: the delay after {@code failures} consecutive failures. */
public record Backoff(Duration min, Duration max) {
  public Duration after(int failures) {
    if (failures <= 0) return Duration.ZERO;
    Duration d = min;
    for (int i = 1; i < failures && d.compareTo(max) < 0; i++) d = d.multipliedBy(2);
    return d.compareTo(max) > 0 ? max : d;
  }
}
