package sluice.core.cluster;

/** Whether a job's model server answered its health path with 2xx, and what it said otherwise. */
public record ProbeOutcome(boolean ready, String detail) {}
