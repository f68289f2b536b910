package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** When an agent counts as unresponsive, on a ticker the test moves. */
class LivenessTest {
  static final Duration TIMEOUT = Duration.ofSeconds(10);
  final AtomicLong nanos = new AtomicLong(1_000);
  final Liveness liveness = new Liveness(nanos::get);

  void pass(Duration d) { nanos.addAndGet(d.toNanos()); }

  @Test void aPingAnsweredInTimeKeepsTheAgentResponsive() {
    long sent = liveness.pingSent();
    pass(Duration.ofSeconds(9));
    assertFalse(liveness.overdue(TIMEOUT));
    assertFalse(liveness.answered(sent), "no spell ended");
    pass(Duration.ofSeconds(5));
    assertFalse(liveness.overdue(TIMEOUT), "nothing waits for an answer");
    assertEquals(Duration.ofSeconds(5), liveness.silence());
  }

  @Test void aPingUnansweredForTheTimeoutStartsOneSpellThatTheNextAnswerEnds() {
    long first = liveness.pingSent();
    pass(Duration.ofSeconds(5));
    long second = liveness.pingSent();
    pass(Duration.ofSeconds(5));
    assertTrue(liveness.overdue(TIMEOUT), "the first ping waited the whole timeout");
    assertTrue(liveness.unresponsive());
    pass(Duration.ofSeconds(5));
    assertFalse(liveness.overdue(TIMEOUT), "the spell starts once");
    assertEquals(Duration.ofSeconds(15), liveness.silence(), "since the handshake");
    assertTrue(liveness.answered(first), "the answer ends the spell");
    assertFalse(liveness.unresponsive());
    assertFalse(liveness.answered(second));
    assertEquals(Duration.ZERO, liveness.silence());
  }

  @Test void aPingTheAgentDroppedDoesNotCountOnceALaterOneIsAnswered() {
    liveness.pingSent();                                    // never answered: the agent dropped it
    pass(Duration.ofSeconds(1));
    long later = liveness.pingSent();
    pass(Duration.ofSeconds(1));
    liveness.answered(later);
    pass(Duration.ofSeconds(30));
    assertFalse(liveness.overdue(TIMEOUT), "the answer to a later ping proves the agent alive");
  }

  @Test void theOldestWaitingPingCounts() {
    liveness.pingSent();
    pass(Duration.ofSeconds(8));
    liveness.pingSent();
    pass(Duration.ofSeconds(2));
    assertTrue(liveness.overdue(TIMEOUT), "10 s since the first ping, though only 2 s since the second");
  }
}
