package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

/** Token counts come from the model server: absurd ones must still make a valid record and never wrap. */
class TokenUsageTest {
  @Test void countsWhoseSumWouldOverflowStopAtTheLargestLong() {
    TokenUsage u = new TokenUsage(Long.MAX_VALUE - 2, 5);
    assertEquals(Long.MAX_VALUE - 2, u.promptTokens());
    assertEquals(2, u.completionTokens());
    assertEquals(Long.MAX_VALUE, u.total());
  }

  @Test void negativeCountsAreRefused() {
    assertThrows(IllegalArgumentException.class, () -> new TokenUsage(-1, 0));
  }
}
