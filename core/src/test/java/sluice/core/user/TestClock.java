package sluice.core.user;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.concurrent.atomic.AtomicReference;

/** A clock the test moves, so windows roll over without waiting. */
final class TestClock extends Clock {
  private final AtomicReference<Instant> now;

  TestClock(Instant start) { this.now = new AtomicReference<>(start); }

  void set(Instant t) { now.set(t); }

  void advance(Duration d) { now.updateAndGet(t -> t.plus(d)); }

  @Override public Instant instant() { return now.get(); }

  @Override public ZoneId getZone() { return ZoneOffset.UTC; }

  @Override public Clock withZone(ZoneId zone) { return this; }
}
