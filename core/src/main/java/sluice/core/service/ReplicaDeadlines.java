package sluice.core.service;

import java.time.Instant;
import java.util.Optional;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;

/**
 * When a live replica must go, whatever the target says: not ready within ready-timeout (a failed start), failing
 * health checks, or drained (its last request ended, or drain-timeout passed). Pure.
 */
final class ReplicaDeadlines {
  private ReplicaDeadlines() {}

  /** Cancel the job, and why; {@code startFailed} when it never became ready (the next submission backs off). */
  record Verdict(String reason, boolean startFailed) {}

  /** @param inFlight requests running on the replica now */
  static Optional<Verdict> check(ReplicaView v, int inFlight, ServiceSettings.Lifecycle life, Instant now) {
    if (v.phase() == ReplicaPhase.RUNNING && v.startedAt() != null && !now.isBefore(v.startedAt().plus(life.readyTimeout()))) {
      String why = "job " + v.jobId() + " was not ready within ready-timeout (" + life.readyTimeout().toSeconds() + " s)"
          + (v.reason() == null ? "" : "; last probe: " + v.reason());
      return Optional.of(new Verdict(why, true));
    }
    if (v.phase() == ReplicaPhase.READY && v.failedChecks() >= life.healthFailures()) {
      return Optional.of(new Verdict("failed " + v.failedChecks() + " health checks in a row: " + v.reason(), false));
    }
    if (v.phase() == ReplicaPhase.DRAINING) {
      if (inFlight == 0) return Optional.of(new Verdict("drained", false));
      if (v.drainingAt() != null && !now.isBefore(v.drainingAt().plus(life.drainTimeout()))) {
        return Optional.of(new Verdict("drain-timeout passed with " + inFlight + " requests still running", false));
      }
    }
    return Optional.empty();
  }
}
