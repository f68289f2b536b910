package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class SpreadTest {
  @Test void minMedianMaxKeepTheSamplesInTheOrderTaken() {
    Spread s = Spread.of(List.of(3.0, 1.0, 2.0));
    assertEquals(1.0, s.min());
    assertEquals(2.0, s.median());
    assertEquals(3.0, s.max());
    assertEquals(List.of(3.0, 1.0, 2.0), s.samples());
    assertEquals(3, s.count());
  }

  @Test void anEvenCountHasTheMeanOfTheTwoMiddleSamplesAsMedian() {
    assertEquals(2.5, Spread.of(List.of(4.0, 1.0, 3.0, 2.0)).median());
  }

  @Test void noSampleIsNaNNotZero() {
    Spread s = Spread.of(List.of());
    assertTrue(Double.isNaN(s.min()) && Double.isNaN(s.median()) && Double.isNaN(s.max()));
    assertEquals(0, s.count());
  }

  @ParameterizedTest
  @CsvSource({"50, 5", "99, 10", "100, 10", "10, 1", "1, 1", "51, 6"})
  void percentilesAreNearestRank(double p, double expected) {
    List<Double> tenValues = List.of(10.0, 9.0, 8.0, 7.0, 6.0, 5.0, 4.0, 3.0, 2.0, 1.0);
    assertEquals(expected, Spread.percentile(tenValues, p));
  }

  @Test void percentileOfNothingIsNaNAndOutOfRangeIsRefused() {
    assertTrue(Double.isNaN(Spread.percentile(List.of(), 50)));
    assertThrows(IllegalArgumentException.class, () -> Spread.percentile(List.of(1.0), 0));
    assertThrows(IllegalArgumentException.class, () -> Spread.percentile(List.of(1.0), 101));
  }
}
