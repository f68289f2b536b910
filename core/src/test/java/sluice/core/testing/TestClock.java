package sluice.core.testing;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one clock of a test, shared by the actors and the fakes. It starts at a fixed instant, so no test depends on
 * today's date, never goes back, and moves when the test moves it ({@link #advance}, {@link #set}): a deadline
 * (a window's end, ready-timeout, renewal, drain-timeout, back-off) is reached at once instead of waited for.
 * {@link #frozen} moves only then, so a test can name exact instants; {@link #running} also follows elapsed real time,
 * for actor tests whose Pekko timers (polls, probes, the evaluate tick) run on real time.
 */
public final class TestClock extends Clock {
  public static final Instant START = Instant.parse("2030-01-01T00:00:00Z");

  private final Instant start;
  private final boolean running;
  private final long startNanos = System.nanoTime();
  private final AtomicReference<Duration> offset = new AtomicReference<>(Duration.ZERO);

  private TestClock(Instant start, boolean running) {
    this.start = start;
    this.running = running;
  }

  /** A clock that stands still at {@code start} until the test moves it. */
  public static TestClock frozen(Instant start) { return new TestClock(start, false); }

  /** A clock that runs with real time from {@code start}, plus what the test adds. */
  public static TestClock running(Instant start) { return new TestClock(start, true); }

  public static TestClock running() { return running(START); }

  /** Moves the clock forward by {@code d}. */
  public void advance(Duration d) {
    if (d.isNegative()) throw new IllegalArgumentException("a clock does not go back: " + d);
    offset.accumulateAndGet(d, Duration::plus);
  }

  /** Moves the clock forward to {@code t}. */
  public void set(Instant t) { advance(Duration.between(instant(), t)); }

  @Override public Instant instant() {
    Instant now = start.plus(offset.get());
    return running ? now.plusNanos(System.nanoTime() - startNanos) : now;
  }

  @Override public ZoneId getZone() { return ZoneOffset.UTC; }

  @Override public Clock withZone(ZoneId zone) {
    if (!ZoneOffset.UTC.equals(zone)) throw new UnsupportedOperationException("a test clock is in UTC");
    return this;
  }
}
