package sluice.core.cluster;

import java.time.Instant;
import sluice.core.CborSerializable;

/**
 * One job as the cluster's scheduler last reported it.
 *
 * @param tag     the idempotency tag the gateway submitted it with (finds the job again after a crash)
 * @param endTime actual end, or the expected end of a running job, or null when unlimited or not started
 * @param reason  Slurm's pending reason, or why it ended
 */
public record JobSnapshot(String jobId, String service, String tag, SlurmState state, String node, Instant startTime,
                          Instant endTime, String reason, Integer exitCode) implements CborSerializable {}
