package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class WindowTest {
  @ParameterizedTest(name = "{0} at {1}")
  @CsvSource({
      "minute, 2024-05-14T10:20:30.500Z, 2024-05-14T10:20:00Z, 2024-05-14T10:21:00Z",
      "hour,   2024-05-14T10:20:30.500Z, 2024-05-14T10:00:00Z, 2024-05-14T11:00:00Z",
      "day,    2024-05-14T10:20:30.500Z, 2024-05-14T00:00:00Z, 2024-05-15T00:00:00Z",
      "month,  2024-05-14T10:20:30.500Z, 2024-05-01T00:00:00Z, 2024-06-01T00:00:00Z",
      // month ends: 31 days, leap February, common February, the year's end
      "month,  2024-01-31T23:59:59.999Z, 2024-01-01T00:00:00Z, 2024-02-01T00:00:00Z",
      "month,  2024-02-29T23:59:59Z,     2024-02-01T00:00:00Z, 2024-03-01T00:00:00Z",
      "day,    2024-02-29T12:00:00Z,     2024-02-29T00:00:00Z, 2024-03-01T00:00:00Z",
      "month,  2023-02-28T23:00:00Z,     2023-02-01T00:00:00Z, 2023-03-01T00:00:00Z",
      "month,  2023-12-31T23:59:59Z,     2023-12-01T00:00:00Z, 2024-01-01T00:00:00Z",
      "hour,   2023-12-31T23:59:59Z,     2023-12-31T23:00:00Z, 2024-01-01T00:00:00Z",
      // a window's end is the next window's start
      "month,  2024-03-01T00:00:00Z,     2024-03-01T00:00:00Z, 2024-04-01T00:00:00Z",
      "minute, 2024-03-01T00:00:00Z,     2024-03-01T00:00:00Z, 2024-03-01T00:01:00Z"})
  void windowsAreUtcCalendarPeriods(String label, String now, String start, String end) {
    Window w = Window.fromLabel(label);
    assertEquals(Instant.parse(start), w.start(Instant.parse(now)));
    assertEquals(Instant.parse(end), w.end(Instant.parse(now)));
  }
}
