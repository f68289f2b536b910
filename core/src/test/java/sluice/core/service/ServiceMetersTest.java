package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static sluice.core.service.ServiceMeters.JobEvent.ENDED;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_CANCELLED;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_EXIT;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_HEALTH;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_LOST;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_NODE_FAILURE;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_START;
import static sluice.core.service.ServiceMeters.JobEvent.FAILED_TIME_LIMIT;

import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaEnd;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;

/** How a service's replica reports become events, without an actor. */
class ServiceMetersTest {
  private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");
  private final SluiceMetrics metrics = SluiceMetrics.standalone(false);
  private final ServiceMeters meters = new ServiceMeters(metrics, "llm");

  private static ReplicaView view(String job, ReplicaPhase phase, Instant readyAt, String reason) {
    return new ReplicaView(job, "t." + job, phase, phase == ReplicaPhase.READY, SlurmState.RUNNING, "n1", T0, T0.plusSeconds(5),
        T0.plusSeconds(3600), readyAt, null, null, null, 0, reason, null);
  }

  private double event(String e) { return MetricValues.value(metrics.registry, "sluice_job_events_total", "model", "llm", "event", e); }

  @Test void howAJobEndedDecidesItsEvent() {
    assertEquals(FAILED_START, ServiceMeters.endEvent(ReplicaEnd.CANCELLED, true, true, ReplicaPhase.RUNNING), "ready-timeout");
    assertEquals(FAILED_START, ServiceMeters.endEvent(ReplicaEnd.FAILED, true, false, ReplicaPhase.RUNNING), "crashed loading");
    assertEquals(FAILED_HEALTH, ServiceMeters.endEvent(ReplicaEnd.CANCELLED, false, true, ReplicaPhase.READY));
    assertEquals(ENDED, ServiceMeters.endEvent(ReplicaEnd.CANCELLED, false, true, ReplicaPhase.DRAINING), "drained, then cancelled");
    assertEquals(ENDED, ServiceMeters.endEvent(ReplicaEnd.CANCELLED, false, true, ReplicaPhase.PENDING), "scaled down before ready");
    assertEquals(ENDED, ServiceMeters.endEvent(ReplicaEnd.COMPLETED, false, false, ReplicaPhase.READY));
    assertEquals(FAILED_CANCELLED, ServiceMeters.endEvent(ReplicaEnd.CANCELLED, false, false, ReplicaPhase.READY), "scancel by hand");
    assertEquals(FAILED_EXIT, ServiceMeters.endEvent(ReplicaEnd.FAILED, false, false, ReplicaPhase.READY));
    assertEquals(FAILED_TIME_LIMIT, ServiceMeters.endEvent(ReplicaEnd.TIMED_OUT, false, false, ReplicaPhase.DRAINING));
    assertEquals(FAILED_NODE_FAILURE, ServiceMeters.endEvent(ReplicaEnd.NODE_FAILURE, false, false, null));
    assertEquals(FAILED_LOST, ServiceMeters.endEvent(ReplicaEnd.LOST, false, false, ReplicaPhase.READY));
  }

  @Test void readyRenewedAndDrainedAreCountedAsTheReplicaEntersThemNotFromItsFirstReport() {
    meters.reported(view("1", ReplicaPhase.READY, T0.plusSeconds(40), null));          // recovered: a baseline
    meters.reported(view("1", ReplicaPhase.READY, T0.plusSeconds(40), null));
    assertEquals(0.0, event("ready"));
    meters.reported(view("2", ReplicaPhase.PENDING, null, "Priority"));
    meters.reported(view("2", ReplicaPhase.RUNNING, null, null));
    meters.reported(view("2", ReplicaPhase.READY, T0.plusSeconds(40), null));
    meters.reported(view("2", ReplicaPhase.READY, T0.plusSeconds(40), null));            // a health check passed again
    assertEquals(1.0, event("ready"));
    assertEquals(1, MetricValues.count(metrics.registry, "sluice_job_startup_seconds", "model", "llm"));
    assertEquals(40.0, MetricValues.sum(metrics.registry, "sluice_job_startup_seconds", "model", "llm"), 1e-9);
    meters.reported(view("1", ReplicaPhase.DRAINING, T0.plusSeconds(40), Replicas.RENEWED));
    meters.reported(view("2", ReplicaPhase.DRAINING, T0.plusSeconds(40), "drained by an operator"));
    meters.reported(view("2", ReplicaPhase.DRAINING, T0.plusSeconds(40), "drained by an operator"));
    assertEquals(1.0, event("renewed"));
    assertEquals(1.0, event("drained"));
  }

  @Test void closingRemovesEveryServiceSeriesOfThisModelAndNoOther() {
    var other = new ServiceMeters(metrics, "other");
    var replica = ServiceStatus.Replica.of(view("7", ReplicaPhase.READY, T0, null), true, 0, 600L, null);
    var status = new ServiceStatus("llm", "c", T0, 1, 1, 4, 1, List.of(replica), new ServiceStatus.Queue(0, 10, null, java.util.Map.of()),
        null, false, null, List.of(), T0);
    meters.refresh(status);
    meters.queued(2);
    meters.submitted();
    assertEquals(600.0, MetricValues.value(metrics.registry, "sluice_job_time_left_seconds", "model", "llm", "job", "7"));
    assertEquals(1.0, MetricValues.value(metrics.registry, "sluice_replicas", "model", "llm", "state", "ready"));

    meters.close();

    for (String family : ServiceMetricsTest.FAMILIES) {
      assertEquals(List.of(), MetricValues.series(metrics.registry, family, "model", "llm"), family);
    }
    assertEquals(12, MetricValues.series(metrics.registry, "sluice_job_events_total", "model", "other").size(),
        "another service's series stay");
    other.close();
  }
}
