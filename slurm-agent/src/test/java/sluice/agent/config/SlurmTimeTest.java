package sluice.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SlurmTimeTest {
  @ParameterizedTest
  @CsvSource({
      "10, 600", "8:59, 539", "1:00:00, 3600", "0:30, 30",
      "1-00:00:00, 86400", "2-3, 183600", "1-2:30, 95400", "1-02:03:04, 93784", "0, 0"})
  void everyFormSbatchAcceptsIsParsed(String text, long seconds) {
    assertEquals(Duration.ofSeconds(seconds), SlurmTime.parse(text).orElseThrow());
  }

  @ParameterizedTest
  @ValueSource(strings = {"UNLIMITED", "INFINITE", "NOT_SET", "unlimited"})
  void unlimitedHasNoLimit(String text) {
    assertTrue(SlurmTime.parse(text).isEmpty());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "1h", "-5", "1:2:3:4", "abc", "1-", "99999999999"})
  void garbageIsRejected(String text) {
    assertThrows(IllegalArgumentException.class, () -> SlurmTime.parse(text));
  }

  @ParameterizedTest
  @CsvSource({"93784, 1-02:03:04", "30, 0-00:00:30"})
  void formatsForSbatch(long seconds, String text) {
    assertEquals(text, SlurmTime.format(Duration.ofSeconds(seconds)));
    assertEquals(Duration.ofSeconds(seconds), SlurmTime.parse(text).orElseThrow());
  }
}
