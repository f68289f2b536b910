package sluice.core.policy;

/** What routing knows of one replica: whether it may take traffic and how many requests it carries now. */
public record ReplicaLoad(String jobId, boolean routable, int inFlight) {}
