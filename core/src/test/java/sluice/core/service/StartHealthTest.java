package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.policy.Backoff;

class StartHealthTest {
  private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");
  private static final Duration WAIT = Duration.ofSeconds(30);

  private final StartHealth health = new StartHealth(new Backoff(Duration.ofMinutes(1), Duration.ofMinutes(10)), 3);

  private static ReplicaView ready(Instant submitted, Instant readyAt) {
    return new ReplicaView("41", "prod.1", ReplicaPhase.READY, true, SlurmState.RUNNING, "gpu-07", submitted, submitted,
        null, readyAt, null, null, null, 0, null, null);
  }

  @Test void failedStartsBackOffDoublingAndDegradeTheService() {
    assertEquals(Duration.ofMinutes(1), health.startFailed("job 1 ended before it was ready", T0));
    assertEquals(Duration.ofMinutes(2), health.startFailed("job 2 ended before it was ready", T0));
    assertFalse(health.degraded());
    assertEquals(Duration.ofMinutes(4), health.startFailed("job 3 was not ready within ready-timeout", T0));
    assertTrue(health.degraded());
    assertEquals(T0.plus(Duration.ofMinutes(4)), health.submitNotBefore());
    assertEquals(Duration.ofMinutes(3), health.backoffLeft(T0.plus(Duration.ofMinutes(1))));
    assertEquals("job 3 was not ready within ready-timeout", health.lastError());
  }

  @Test void aDegradedServiceRefusesRequestsOnlyWhenNothingIsStartingAndTheNextAttemptIsBeyondTheWait() {
    for (int i = 0; i < 3; i++) health.startFailed("failed", T0);
    assertTrue(health.refusesRequests(false, WAIT, T0));
    assertFalse(health.refusesRequests(true, WAIT, T0), "a replica on its way may still serve it");
    assertFalse(health.refusesRequests(false, WAIT, T0.plus(Duration.ofMinutes(4)).minusSeconds(10)), "the attempt comes within the wait");
  }

  @Test void aReadyReplicaEndsTheSeriesAndMeasuresTheStartUp() {
    health.startFailed("failed", T0);
    health.logTailFetched(List.of("CUDA error"));
    assertEquals(1, health.startSucceeded(ready(T0, T0.plusSeconds(100))));
    assertNull(health.lastError());
    assertEquals(List.of(), health.logTail());
    assertEquals(Instant.EPOCH, health.submitNotBefore());
    assertEquals(Duration.ofSeconds(100), health.startup());
    assertEquals(0, health.startSucceeded(ready(T0, T0.plusSeconds(200))));
    assertEquals(Duration.ofSeconds(150), health.startupOr(Duration.ofSeconds(5)), "a moving average");
  }

  @Test void aSuccessClearsOnlyAProblemOfItsKind() {
    health.listingFailed("ssh: connection refused");
    assertEquals("cannot list jobs: ssh: connection refused", health.lastError());
    health.submitSucceeded();
    assertEquals("cannot list jobs: ssh: connection refused", health.lastError());
    health.listed();
    assertNull(health.lastError());
    assertEquals(Duration.ofMinutes(1), health.submitFailed("sbatch: error", T0));
    assertEquals("submit failed: sbatch: error", health.lastError());
    health.submitSucceeded();
    assertNull(health.lastError());
  }
}
