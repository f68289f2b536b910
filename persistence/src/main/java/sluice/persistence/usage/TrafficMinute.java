package sluice.persistence.usage;

import java.time.Instant;

/**
 * One model's requests in one UTC minute, for the operator dashboard.
 *
 * @param minute   the minute's start
 * @param errors   requests answered with a status of 400 or more
 * @param ttftP50  the median time to first token in milliseconds over the requests that got one, or null when none did
 */
public record TrafficMinute(String model, Instant minute, long requests, long errors, Double ttftP50) {
  public TrafficMinute {
    if (model == null || minute == null) throw new IllegalArgumentException("model and minute are required");
    if (requests < 0 || errors < 0 || errors > requests) throw new IllegalArgumentException("need 0 <= errors <= requests");
  }
}
