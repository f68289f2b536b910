package sluice.core.cluster;

/**
 * A job's state as the scheduler reports it (Slurm's extended names; the local scheduler uses the same). It mirrors
 * the agent's wire enum on purpose: core does not depend on the protocol, and hpc-bridge maps one onto the other by
 * name, so a state this version does not know arrives as UNKNOWN instead of failing.
 */
public enum SlurmState {
  PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED,
  COMPLETED, FAILED, CANCELLED, TIMEOUT, NODE_FAIL, OUT_OF_MEMORY, PREEMPTED, BOOT_FAIL, DEADLINE,
  /** The scheduler no longer lists the job and never reported how it ended. */
  UNKNOWN;

  public boolean isFinal() {
    return switch (this) {
      case PENDING, CONFIGURING, RUNNING, COMPLETING, SUSPENDED -> false;
      default -> true;
    };
  }

  /** Parses a scheduler's name leniently: anything unknown is UNKNOWN, never an exception. */
  public static SlurmState parse(String name) {
    try {
      return name == null ? UNKNOWN : valueOf(name);
    } catch (IllegalArgumentException e) {
      return UNKNOWN;
    }
  }
}
