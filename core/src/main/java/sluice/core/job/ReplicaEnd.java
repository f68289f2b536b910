package sluice.core.job;

import sluice.core.cluster.SlurmState;

/** How a replica's job ended, in the words an operator expects (Slurm's many final states folded into six). */
public enum ReplicaEnd {
  COMPLETED, FAILED, CANCELLED, TIMED_OUT, NODE_FAILURE,
  /** The scheduler no longer lists the job and never said how it ended. */
  LOST;

  public static ReplicaEnd of(SlurmState state) {
    return switch (state) {
      case COMPLETED -> COMPLETED;
      case CANCELLED, PREEMPTED -> CANCELLED;
      case TIMEOUT, DEADLINE -> TIMED_OUT;
      case NODE_FAIL -> NODE_FAILURE;
      case FAILED, OUT_OF_MEMORY, BOOT_FAIL -> FAILED;
      default -> LOST;
    };
  }
}
