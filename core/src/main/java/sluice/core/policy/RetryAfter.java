package sluice.core.policy;

import java.time.Duration;

/**
 * The {@code Retry-After} a refused request gets, in whole seconds within [1, 600]: when a replica is on its way, the
 * rest of the measured start-up time; when one could be started, a whole start-up (after any submission backoff);
 * when every replica is up but busy, the time the queue ahead needs at the measured request duration.
 */
public final class RetryAfter {
  private RetryAfter() {}

  private static final long MIN = 1;
  private static final long MAX = 600;

  /**
   * @param startingFor how long the most advanced starting replica has been on its way, or null if none is starting
   * @param canStart    whether the service may start another replica (below max, not backing off for long)
   * @param backoffLeft how long until the next submission may happen
   * @param startup     the measured (or assumed) time from submission to ready
   * @param waiting     requests ahead (queued)
   * @param capacity    requests the ready replicas carry at once
   * @param requestTime the measured time a request holds a replica
   */
  public static long seconds(Duration startingFor, boolean canStart, Duration backoffLeft, Duration startup,
                             int waiting, int capacity, Duration requestTime) {
    Duration d;
    if (startingFor != null) {
      d = startup.minus(startingFor);
    } else if (capacity > 0) {
      d = requestTime.multipliedBy(Math.max(1, (waiting + capacity) / capacity));
    } else if (canStart) {
      d = backoffLeft.plus(startup);
    } else {
      d = startup;
    }
    long s = (d.toMillis() + 999) / 1000;
    return Math.max(MIN, Math.min(MAX, s));
  }
}
