package sluice.core.service;

import java.time.Instant;
import java.util.List;
import sluice.core.CborSerializable;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaPhase;

/** A service's live state, for the admin API and /v1/models. */
public record ServiceStatus(String service, String cluster, Instant createdAt, int minReplicas, int maxReplicas,
                            int maxInflightPerReplica, List<Replica> replicas, int queued, int submitting,
                            String lastError) implements CborSerializable {
  public ServiceStatus {
    replicas = List.copyOf(replicas);
  }

  public record Replica(String jobId, ReplicaPhase phase, boolean routable, SlurmState slurmState, String node,
                        Instant submittedAt, Instant startedAt, Instant endsAt, Instant readyAt, int inFlight,
                        String reason) implements CborSerializable {}

  /** "ready" when a replica takes requests, "loading" while one is on its way, else "offline". */
  public String availability() {
    if (replicas.stream().anyMatch(Replica::routable)) return "ready";
    if (submitting > 0 || replicas.stream().anyMatch(r -> r.phase() != ReplicaPhase.ENDED)) return "loading";
    return "offline";
  }

  public int inFlight() { return replicas.stream().mapToInt(Replica::inFlight).sum(); }
}
