package sluice.core.job;

import java.time.Instant;
import sluice.core.CborSerializable;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.SlurmState;

/**
 * A job actor's report to its service: the persisted lifecycle with its timestamps plus what it observed last.
 *
 * @param routable     ready, confirmed by a probe since this actor started, healthy at the last check and not
 *                     draining: only such replicas take requests
 * @param endsAt       Slurm's end time for the job (its time limit), or null when unlimited or not yet running
 * @param end          how it ended, once {@code phase} is ENDED
 * @param failedChecks consecutive failed health checks of a ready replica (0 while healthy or loading)
 * @param reason       Slurm's pending reason, the last probe's answer, why it drains, or why it ended
 * @param unreachable  why the last health check of a ready replica could not reach it (the way through the cluster's
 *                     agent is broken: {@link ClusterFailure#cutOffFromCluster()}), or null; such checks stop its
 *                     traffic but do not count as failed
 */
public record ReplicaView(String jobId, String tag, ReplicaPhase phase, boolean routable, SlurmState slurmState,
                          String node, Instant submittedAt, Instant startedAt, Instant endsAt, Instant readyAt,
                          Instant drainingAt, Instant endedAt, ReplicaEnd end, int failedChecks,
                          String reason, ClusterFailure unreachable) implements CborSerializable {}
