package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.service.ReplicaDeadlines.Verdict;

class ReplicaDeadlinesTest {
  private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");
  /** ready-timeout 10 min, drain-timeout 1 min, 2 failed health checks. */
  private static final ServiceSettings.Lifecycle LIFE = new ServiceSettings.Lifecycle(Duration.ofMinutes(1), Duration.ofMinutes(1),
      Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofSeconds(5), 2);

  private static ReplicaView view(ReplicaPhase phase, int failedChecks, String reason) {
    return new ReplicaView("41", "prod.1", phase, phase == ReplicaPhase.READY && failedChecks == 0, SlurmState.RUNNING, "gpu-07",
        T0, T0, T0.plusSeconds(3600), phase == ReplicaPhase.READY ? T0 : null, phase == ReplicaPhase.DRAINING ? T0 : null, null,
        null, failedChecks, reason, null);
  }

  @Test void aLoadingJobIsAFailedStartOnceReadyTimeoutHasPassed() {
    ReplicaView loading = view(ReplicaPhase.RUNNING, 0, "health answered 503");
    assertEquals(Optional.empty(), ReplicaDeadlines.check(loading, 0, LIFE, T0.plus(Duration.ofMinutes(10)).minusMillis(1)));
    assertEquals(Optional.of(new Verdict("job 41 was not ready within ready-timeout (600 s); last probe: health answered 503", true)),
        ReplicaDeadlines.check(loading, 0, LIFE, T0.plus(Duration.ofMinutes(10))));
    assertEquals(Optional.of(new Verdict("job 41 was not ready within ready-timeout (600 s)", true)),
        ReplicaDeadlines.check(view(ReplicaPhase.RUNNING, 0, null), 0, LIFE, T0.plus(Duration.ofHours(1))));
  }

  @Test void aPendingJobHasNoReadyTimeout() {
    assertEquals(Optional.empty(), ReplicaDeadlines.check(view(ReplicaPhase.PENDING, 0, "Priority"), 0, LIFE, T0.plusSeconds(86400)));
  }

  @Test void aReadyReplicaGoesAfterHealthFailuresChecksInARow() {
    assertEquals(Optional.empty(), ReplicaDeadlines.check(view(ReplicaPhase.READY, 1, "health answered 503"), 0, LIFE, T0));
    assertEquals(Optional.of(new Verdict("failed 2 health checks in a row: health answered 503", false)),
        ReplicaDeadlines.check(view(ReplicaPhase.READY, 2, "health answered 503"), 4, LIFE, T0));
  }

  @Test void aDrainingReplicaGoesWhenItsLastRequestEndsOrAtTheDrainTimeout() {
    ReplicaView draining = view(ReplicaPhase.DRAINING, 0, "scale down: demand 0");
    assertEquals(Optional.of(new Verdict("drained", false)), ReplicaDeadlines.check(draining, 0, LIFE, T0));
    assertEquals(Optional.empty(), ReplicaDeadlines.check(draining, 2, LIFE, T0.plusSeconds(59)));
    assertEquals(Optional.of(new Verdict("drain-timeout passed with 2 requests still running", false)),
        ReplicaDeadlines.check(draining, 2, LIFE, T0.plusSeconds(60)));
  }
}
