package sluice.core.policy;

/**
 * How many jobs to submit now. {@code active} counts every job that is submitted and not yet ended, plus submissions
 * in flight, so a job that is pending or loading is never submitted twice.
 */
public record ReplicaTarget(int minReplicas, int maxReplicas) {
  public ReplicaTarget {
    if (minReplicas < 0 || maxReplicas < 1 || maxReplicas < minReplicas) {
      throw new IllegalArgumentException("need 0 <= min <= max, max >= 1");
    }
  }

  public int toSubmit(int active) {
    return Math.max(0, Math.min(minReplicas, maxReplicas) - active);
  }
}
