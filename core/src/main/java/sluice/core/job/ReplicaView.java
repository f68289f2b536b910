package sluice.core.job;

import java.time.Instant;
import sluice.core.CborSerializable;
import sluice.core.cluster.SlurmState;

/**
 * A job actor's report to its service: the persisted lifecycle plus what it observed last.
 *
 * @param routable ready and confirmed by a probe since this actor started: only such replicas take requests
 * @param reason   Slurm's pending reason, the last probe's answer while loading, or why the job ended
 */
public record ReplicaView(String jobId, String tag, ReplicaPhase phase, boolean routable, SlurmState slurmState,
                          String node, Instant submittedAt, Instant startedAt, Instant endsAt, Instant readyAt,
                          String reason) implements CborSerializable {}
