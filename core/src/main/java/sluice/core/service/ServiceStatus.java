package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import sluice.core.CborSerializable;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaEnd;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;

/**
 * A service's live state, for the admin API and /v1/models.
 *
 * @param minReplicas  the effective minimum (an operator's override, else the configured one); likewise max
 * @param target       the replicas the autoscaler wants now
 * @param degraded     replicas keep failing to start; {@code lastError} says why and {@code logTail} shows the last
 *                     failed job's output
 * @param at           when this status was taken (time left is counted from it)
 */
public record ServiceStatus(String service, String cluster, Instant createdAt, int minReplicas, int maxReplicas,
                            int maxInflightPerReplica, int target, List<Replica> replicas, Queue queue,
                            Scaling scaling, boolean degraded, String lastError, List<String> logTail,
                            Instant at) implements CborSerializable {
  public ServiceStatus {
    replicas = List.copyOf(replicas);
    logTail = List.copyOf(logTail);
  }

  /**
   * One replica. Phase SUBMITTING is a persisted intent whose job id is not known yet ({@code jobId} is its tag).
   *
   * @param health "ok", "failing" (a check failed, no traffic until one passes), "unreachable" (checks cannot reach it
   *               through the cluster's agent: no traffic, but not replaced for it), "starting", "draining" or "ended"
   */
  public record Replica(String jobId, ReplicaPhase phase, boolean routable, SlurmState slurmState, String node,
                        Instant submittedAt, Instant startedAt, Instant endsAt, Instant readyAt, Instant drainingAt,
                        ReplicaEnd end, int inFlight, int failedChecks, String health, Long timeLeftSeconds,
                        String reason) implements CborSerializable {
    /** A persisted intent: no job id yet, so {@code tag} stands in for it. */
    public static Replica submitting(String tag, Instant at) {
      return new Replica(tag, ReplicaPhase.SUBMITTING, false, null, null, at, null, null, null, null, null, 0, 0, "starting",
          null, "submitting");
    }

    /** A tracked job whose actor has not reported since a restart: shown as pending until it does. */
    public static Replica recovering(String jobId, Instant submittedAt, int inFlight) {
      return new Replica(jobId, ReplicaPhase.PENDING, false, null, null, submittedAt, null, null, null, null, null, inFlight,
          0, "starting", null, "recovering");
    }

    /**
     * A job as its actor reported it.
     *
     * @param routable whether the service sends it requests now (its report says routable and it is not leaving)
     * @param reason   the report's reason, unless the service is cancelling the job
     */
    public static Replica of(ReplicaView v, boolean routable, int inFlight, Long timeLeftSeconds, String reason) {
      return new Replica(v.jobId(), v.phase(), routable, v.slurmState(), v.node(), v.submittedAt(), v.startedAt(),
          v.endsAt(), v.readyAt(), v.drainingAt(), v.end(), inFlight, v.failedChecks(), health(v), timeLeftSeconds, reason);
    }

    private static String health(ReplicaView v) {
      return switch (v.phase()) {
        case READY -> v.unreachable() != null ? "unreachable" : v.failedChecks() > 0 || !v.routable() ? "failing" : "ok";
        case DRAINING -> "draining";
        case ENDED -> "ended";
        default -> "starting";
      };
    }
  }

  /** The admission queue: requests waiting for a replica, per user (by API key name). */
  public record Queue(int length, int max, Duration maxWait, Map<String, Integer> perUser) implements CborSerializable {
    public Queue {
      perUser = Map.copyOf(perUser);
    }
  }

  /**
   * The autoscaler's last change of target: when demand first needed more than the target ({@code demandAt}), and
   * when the new target was decided and its jobs submitted ({@code decidedAt}).
   */
  public record Scaling(int demand, int lastFrom, int lastTo, Instant demandAt, Instant decidedAt,
                        Duration measuredStartup) implements CborSerializable {}

  /** "ready" when a replica takes requests, "loading" while one is on its way, else "offline". */
  public String availability() {
    if (replicas.stream().anyMatch(Replica::routable)) return "ready";
    if (replicas.stream().anyMatch(r -> r.phase() != ReplicaPhase.ENDED && r.phase() != ReplicaPhase.DRAINING)) return "loading";
    return "offline";
  }

  public int inFlight() { return replicas.stream().mapToInt(Replica::inFlight).sum(); }
}
