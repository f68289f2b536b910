package sluice.persistence.usage;

import java.time.Duration;
import java.time.Instant;

/**
 * One answered request, as billed: who asked which model through which endpoint, what it cost in tokens and how it
 * went. Stored to the millisecond (durations) and microsecond ({@code startedAt}).
 *
 * @param requestId          the request's id (a client's {@code X-Request-Id} may repeat, so it is not a key)
 * @param jobId              the Slurm job that served it, or null when none did (rejected, queued out, failed early)
 * @param status             the HTTP status the client received
 * @param timeToFirstToken   until the first content byte; null when none came
 * @param clientDisconnected the client went away before the response ended
 * @param serverShutdown     the gateway ended the response at its shutdown deadline (a stream got an error event)
 */
public record UsageRecord(String requestId, String userId, String keyId, String model, String endpoint, String jobId,
                          boolean stream, int status, long promptTokens, long completionTokens,
                          Duration timeToFirstToken, Duration duration, boolean clientDisconnected, boolean serverShutdown,
                          Instant startedAt) {
  /** Longest text a column holds (VARCHAR(256)). */
  public static final int MAX_TEXT = 256;

  public UsageRecord {
    text("requestId", requestId);
    text("userId", userId);
    text("keyId", keyId);
    text("model", model);
    text("endpoint", endpoint);
    if (jobId != null) text("jobId", jobId);
    if (status < 100 || status > 599) throw new IllegalArgumentException("status must be an HTTP status (100..599): " + status);
    if (promptTokens < 0) throw new IllegalArgumentException("promptTokens must be >= 0: " + promptTokens);
    if (completionTokens < 0) throw new IllegalArgumentException("completionTokens must be >= 0: " + completionTokens);
    if (timeToFirstToken != null && timeToFirstToken.isNegative()) {
      throw new IllegalArgumentException("timeToFirstToken must not be negative: " + timeToFirstToken);
    }
    if (duration == null || duration.isNegative()) throw new IllegalArgumentException("duration must be >= 0: " + duration);
    if (startedAt == null) throw new IllegalArgumentException("startedAt is required");
    Math.addExact(promptTokens, completionTokens);                     // totalTokens() must not overflow
  }

  public long totalTokens() { return promptTokens + completionTokens; }

  private static void text(String name, String value) {
    if (value == null || value.isBlank()) throw new IllegalArgumentException(name + " is required");
    if (value.length() > MAX_TEXT) {
      throw new IllegalArgumentException(name + " is longer than " + MAX_TEXT + " characters (" + value.length() + ")");
    }
  }
}
