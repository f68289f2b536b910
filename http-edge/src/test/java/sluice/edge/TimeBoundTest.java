package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Times of the admin API and CLI: dates and instants of the years 1 to 9999, which every database can store. */
class TimeBoundTest {
  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"+1000000000-01-01T00:00:00Z", "-1000000000-01-01T00:00:00Z", "+10000-01-01T00:00:00Z",
      "+10000-01-01", "0000-12-31", "-0001-01-01T00:00:00Z", "+999999999-12-31"})
  void timesOutsideTheYears1To9999AreRefusedWithTheRange(String text) {
    var e = assertThrows(IllegalArgumentException.class, () -> TimeBound.parse(text));
    assertTrue(e.getMessage().contains("0001-01-01") && e.getMessage().contains("9999-12-31"), e.getMessage());
  }

  @ParameterizedTest(name = "{0}")
  @ValueSource(strings = {"0001-01-01", "0001-01-01T00:00:00Z", "9999-12-31", "9999-12-31T23:59:59.999999999Z", "2026-11-01"})
  void theEdgesOfTheRangeAreAccepted(String text) {
    TimeBound t = TimeBound.parse(text);
    assertEquals(text, t.text());
    assertTrue(!t.end().isBefore(t.start()));
  }

  @org.junit.jupiter.api.Test void aDateEndsAtTheNextMidnight() {
    assertEquals(Instant.parse("2026-11-02T00:00:00Z"), TimeBound.parse("2026-11-01").end());
  }
}
