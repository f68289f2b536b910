package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class PollPaceTest {
  @Test void threeListingsWithDoublingGapsFollowASubmissionWithinOneInterval() {
    PollPace pace = new PollPace(Duration.ofSeconds(5));
    assertEquals(Duration.ofMillis(625), pace.gapBefore(0));
    assertEquals(Duration.ofMillis(1250), pace.gapBefore(1));
    assertEquals(Duration.ofMillis(2500), pace.gapBefore(2));        // at 4.375 s, before the regular poll at 5 s
    assertNull(pace.gapBefore(3));
    assertEquals(Duration.ofMillis(625), pace.maxAge());
  }

  @Test void theEmbeddedIntervalGivesListingsAFewTensOfMillisecondsApart() {
    PollPace pace = new PollPace(Duration.ofMillis(300));
    assertEquals(Duration.ofMillis(37).plusNanos(500_000), pace.gapBefore(0));
  }

  @Test void anIntervalTooShortToDivideAddsNoListing() {
    PollPace pace = new PollPace(Duration.ofNanos(7));
    assertNull(pace.gapBefore(0));
    assertEquals(Duration.ZERO, pace.maxAge());
  }
}
