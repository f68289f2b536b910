package sluice.core.job;

/**
 * A replica's life. SUBMITTING exists only as the service's persisted intent (no job id yet); the job's own actor
 * goes PENDING (queued by Slurm) → RUNNING (its model server loading) → READY (probed, takes traffic) → DRAINING
 * (takes no new requests, finishes the running ones) → ENDED (with a {@link ReplicaEnd}). Any phase may end early.
 */
public enum ReplicaPhase { SUBMITTING, PENDING, RUNNING, READY, DRAINING, ENDED }
