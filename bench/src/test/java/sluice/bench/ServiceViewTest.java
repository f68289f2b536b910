package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import org.junit.jupiter.api.Test;

class ServiceViewTest {
  /** The shape of GET /admin/services/{id} (ServiceStatus through the snake_case mapper, nulls left out). */
  static final String STATUS = """
      {"service":"scaleup","cluster":"local","min_replicas":0,"max_replicas":2,"max_inflight_per_replica":2,"target":2,
       "replicas":[
         {"job_id":"4","phase":"READY","routable":true,"slurm_state":"RUNNING","node":"localhost",
          "submitted_at":"2026-11-23T01:47:40.100Z","started_at":"2026-11-23T01:47:40.300Z",
          "ends_at":"2026-11-23T02:02:40.300Z","ready_at":"2026-11-23T01:47:43.158123Z","in_flight":2,
          "failed_checks":0,"health":"ok","time_left_seconds":897},
         {"job_id":"sluice-bench-lifecycle.0123456789abcdef","phase":"SUBMITTING","routable":false,"in_flight":0,
          "failed_checks":0,"health":"starting"},
         {"job_id":"2","phase":"ENDED","routable":false,"end":"CANCELLED","draining_at":"2026-11-23T01:47:30Z",
          "in_flight":0,"failed_checks":0,"health":"ended"}],
       "queue":{"length":2,"max":100,"max_wait":"PT1M","per_user":{"bench":2}},
       "scaling":{"demand":4,"last_from":1,"last_to":2,"demand_at":"2026-11-23T01:47:44.500Z",
                  "decided_at":"2026-11-23T01:47:44.500Z","measured_startup":"PT3S"},
       "degraded":false,"log_tail":[],"at":"2026-11-23T01:47:44.6Z","availability":"ready","in_flight":2}""";

  @Test void readsTargetScalingTimesAndReplicas() throws Exception {
    ServiceView v = ServiceView.parse(Api.JSON.readTree(STATUS));
    assertEquals("scaleup", v.service());
    assertEquals(2, v.target());
    assertEquals(1, v.lastFrom());
    assertEquals(2, v.lastTo());
    assertEquals(Instant.parse("2026-11-23T01:47:44.500Z"), v.demandAt());
    assertEquals(v.demandAt(), v.decidedAt());
    assertEquals(3, v.replicas().size());
    ServiceView.Replica ready = v.replicas().get(0);
    assertEquals("4", ready.jobId());
    assertEquals(Instant.parse("2026-11-23T01:47:43.158123Z"), ready.readyAt());
    assertNull(ready.drainingAt());
    assertEquals(1, v.routable());
    assertEquals(2, v.live(), "the ended replica is not live");
  }

  @Test void anIntentHasNoJobIdYetSoItIsNotSubmitted() throws Exception {
    ServiceView v = ServiceView.parse(Api.JSON.readTree(STATUS));
    assertFalse(v.replicas().get(1).submitted());
    assertTrue(v.replicas().get(1).live());
    assertTrue(v.replicas().get(0).submitted());
    assertNull(v.replicas().get(1).submittedAt());
  }

  @Test void aServiceThatNeverScaledHasNoScalingTimes() throws Exception {
    ServiceView v = ServiceView.parse(Api.JSON.readTree("""
        {"service":"recovery","target":0,"replicas":[],"scaling":{"demand":0,"last_from":0,"last_to":0}}"""));
    assertNull(v.demandAt());
    assertNull(v.decidedAt());
    assertEquals(0, v.live());
  }
}
