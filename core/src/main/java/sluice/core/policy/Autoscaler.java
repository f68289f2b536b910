package sluice.core.policy;

import java.time.Duration;
import java.time.Instant;

/**
 * How many replicas a service should have, from the demand its actor sees exactly: requests in flight plus requests
 * queued. Pure: the actor keeps the {@link Scale} and feeds every change of demand (and a tick) through {@link #next}.
 *
 * <ul>
 *   <li>Up at once: as soon as demand needs more replicas than the target (within {@code max}).</li>
 *   <li>Down slowly: only after demand stayed below the target for {@code scaleDownDelay}, and then to the highest
 *       need seen during that time, so a dip between two bursts does not cancel a replica that took minutes to load.</li>
 *   <li>To zero (only with {@code min = 0}): after no demand at all for {@code idleToZero}; until then one replica stays.</li>
 * </ul>
 */
public record Autoscaler(int min, int max, int perReplica, Duration scaleDownDelay, Duration idleToZero) {
  public Autoscaler {
    if (min < 0 || max < 1 || max < min || perReplica < 1) throw new IllegalArgumentException("need 0 <= min <= max, max >= 1, perReplica >= 1");
    if (scaleDownDelay.isNegative() || idleToZero.isNegative()) throw new IllegalArgumentException("delays must be >= 0");
  }

  /**
   * The scaling memory between two decisions.
   *
   * @param lowSince  since when demand needs fewer replicas than the target, or null
   * @param lowPeak   the most replicas demand needed since {@code lowSince}
   * @param idleSince since when there is no demand at all, or null
   */
  public record Scale(int target, Instant lowSince, int lowPeak, Instant idleSince) {
    public static Scale initial(int target) { return new Scale(target, null, 0, null); }
  }

  /** Replicas that {@code demand} concurrent requests need, before min and max. */
  public int need(int demand) { return demand <= 0 ? 0 : (demand + perReplica - 1) / perReplica; }

  public Scale next(Scale s, int demand, Instant now) {
    Instant idleSince = demand > 0 ? null : (s.idleSince() == null ? now : s.idleSince());
    boolean idleLongEnough = idleSince != null && !now.isBefore(idleSince.plus(idleToZero));
    int floor = min > 0 ? min : (s.target() == 0 || idleLongEnough ? 0 : 1);
    int desired = Math.min(max, Math.max(need(demand), floor));
    if (s.target() > max) return new Scale(max, null, 0, idleSince);                 // max was lowered: obey at once
    if (desired >= s.target()) return new Scale(desired, null, 0, idleSince);
    if (desired == 0) return new Scale(0, null, 0, idleSince);                        // idle-to-zero was the delay
    Instant lowSince = s.lowSince() == null ? now : s.lowSince();
    int lowPeak = Math.max(s.lowSince() == null ? 0 : s.lowPeak(), desired);
    if (now.isBefore(lowSince.plus(scaleDownDelay))) return new Scale(s.target(), lowSince, lowPeak, idleSince);
    return new Scale(lowPeak, null, 0, idleSince);
  }
}
