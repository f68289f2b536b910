package sluice.agent.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class AwaitTest {
  private final AtomicInteger reads = new AtomicInteger();

  @Test void returnsTheFirstValueThatSatisfies() throws Exception {
    assertEquals(3, Await.until(Duration.ofSeconds(5), "three reads", reads::incrementAndGet, n -> n >= 3));
    Await.until(Duration.ofSeconds(5), "four reads", () -> reads.incrementAndGet() == 4);
    assertEquals(4, reads.get());
  }

  @Test void timesOutNamingWhatItWaitedForAndTheLastValue() {
    AssertionError e = assertThrows(AssertionError.class,
        () -> Await.until(Duration.ofMillis(100), "the answer", () -> "not yet " + reads.incrementAndGet(), s -> false));
    assertTrue(e.getMessage().startsWith("timed out after 100 ms waiting for the answer; last seen: not yet "), e.getMessage());
    assertTrue(reads.get() > 1, "polled more than once");
  }

  @Test void anExceptionFailsTheWaitAtOnce() {
    IOException boom = new IOException("boom");
    assertSame(boom, assertThrows(IOException.class, () -> Await.until(Duration.ofSeconds(30), "x", () -> {
      reads.incrementAndGet();
      throw boom;
    })));
    assertEquals(1, reads.get());
  }

  @Test void anIgnoredExceptionIsNotYetAndIsReportedAsTheCause() throws Exception {
    assertEquals(3, Await.ignoring(UncheckedIOException.class).until(Duration.ofSeconds(5), "three", () -> {
      if (reads.incrementAndGet() < 3) throw new UncheckedIOException(new IOException("restarting"));
      return reads.get();
    }, n -> true));
    UncheckedIOException last = new UncheckedIOException(new IOException("still down"));
    AssertionError e = assertThrows(AssertionError.class, () -> Await.ignoring(UncheckedIOException.class)
        .until(Duration.ofMillis(50), "the agent", () -> { throw last; }));
    assertSame(last, e.getCause());
    assertThrows(IllegalStateException.class, () -> Await.ignoring(UncheckedIOException.class)
        .until(Duration.ofSeconds(30), "x", () -> { throw new IllegalStateException("another kind"); }));
  }
}
