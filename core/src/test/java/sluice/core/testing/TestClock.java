package sluice.core.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one clock of an actor test, shared by the actors and the fake cluster. It runs with elapsed real time, because
 * Pekko's timers (polls, probes, the evaluate tick) do, and the test moves it forward with {@link #advance} to reach
 * a deadline (ready-timeout, renewal window, drain-timeout, back-off) at once instead of waiting for it. It starts at
 * a fixed instant, so no test depends on today's date, and it never goes back.
 */
public final class TestClock extends Clock {
  public static final Instant START = Instant.parse("2030-01-01T00:00:00Z");

  private final Instant start;
  private final long startNanos = System.nanoTime();
  private final AtomicReference<Duration> offset = new AtomicReference<>(Duration.ZERO);

  public TestClock() { this(START); }

  public TestClock(Instant start) { this.start = start; }

  /** Moves the clock forward by {@code d}, on top of the real time that passes meanwhile. */
  public void advance(Duration d) {
    if (d.isNegative()) throw new IllegalArgumentException("a clock does not go back: " + d);
    offset.accumulateAndGet(d, Duration::plus);
  }

  @Override public Instant instant() {
    return start.plusNanos(System.nanoTime() - startNanos).plus(offset.get());
  }

  @Override public ZoneId getZone() { return ZoneOffset.UTC; }

  @Override public Clock withZone(ZoneId zone) {
    if (!ZoneOffset.UTC.equals(zone)) throw new UnsupportedOperationException("a test clock is in UTC");
    return this;
  }
}
