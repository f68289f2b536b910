package sluice.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class PoliciesTest {
  @Test void leastLoadedRoutableReplicaWins() {
    var replicas = List.of(new ReplicaLoad("1", true, 3), new ReplicaLoad("2", true, 1), new ReplicaLoad("3", false, 0));
    assertEquals(Optional.of("2"), ReplicaChooser.pick(replicas, 4));
  }

  @Test void tiesGoToTheFirstAndFullReplicasAreSkipped() {
    assertEquals(Optional.of("a"), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 0), new ReplicaLoad("b", true, 0)), 2));
    assertEquals(Optional.of("b"), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 2), new ReplicaLoad("b", true, 1)), 2));
    assertEquals(Optional.empty(), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 2)), 2));
    assertEquals(Optional.empty(), ReplicaChooser.pick(List.of(), 2));
  }

  @ParameterizedTest
  @CsvSource({"1,1,0,1", "1,1,1,0", "2,4,1,1", "0,3,0,0", "3,3,5,0"})
  void submitsUpToTheMinimum(int min, int max, int active, int expected) {
    assertEquals(expected, new ReplicaTarget(min, max).toSubmit(active));
  }

  @Test void impossibleBoundsAreRejected() {
    assertThrows(IllegalArgumentException.class, () -> new ReplicaTarget(2, 1));
    assertThrows(IllegalArgumentException.class, () -> new ReplicaTarget(0, 0));
  }

  @ParameterizedTest
  @CsvSource({"0,0", "1,2", "2,4", "3,8", "4,10", "30,10"})
  void backoffDoublesUpToItsCap(int failures, long seconds) {
    assertEquals(Duration.ofSeconds(seconds), new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(10)).after(failures));
  }
}
