package sluice.core.policy;

import java.util.List;
import java.util.Optional;

/**
 * Picks the replica for the next request: among replicas that are routable (ready, healthy, not draining) and below
 * the per-replica limit, the one with the fewest requests in flight (ties go to the earliest in the list, which the
 * caller orders by age). {@code avoid} names a replica that just failed this request: its retry goes elsewhere.
 */
public final class ReplicaChooser {
  private ReplicaChooser() {}

  public static Optional<String> pick(List<ReplicaLoad> replicas, int maxInflightPerReplica, String avoid) {
    ReplicaLoad best = null;
    for (ReplicaLoad r : replicas) {
      if (!r.routable() || r.inFlight() >= maxInflightPerReplica || r.jobId().equals(avoid)) continue;
      if (best == null || r.inFlight() < best.inFlight()) best = r;
    }
    return Optional.ofNullable(best).map(ReplicaLoad::jobId);
  }
}
