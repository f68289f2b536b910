package sluice.core.job;

/** A replica's life: the job is submitted (maybe pending), then running, then its model server is ready, then it ends. */
public enum ReplicaPhase { SUBMITTED, RUNNING, READY, ENDED }
