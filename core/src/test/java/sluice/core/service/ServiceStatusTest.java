package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializers;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaEnd;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;

/** The named factories of {@link ServiceStatus.Replica} build what the positional constructor did; the JSON is unchanged. */
class ServiceStatusTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  private static final Instant T = Instant.parse("2030-01-01T12:00:00Z");

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  /** As the admin API renders it (http-edge's OpenAiJson): snake_case, ISO timestamps, nulls left out. */
  private static final ObjectMapper JSON = JsonMapper.builder()
      .addModule(new JavaTimeModule())
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .defaultPropertyInclusion(JsonInclude.Value.construct(JsonInclude.Include.NON_NULL, JsonInclude.Include.NON_NULL))
      .build();

  private static ReplicaView view(ReplicaPhase phase, boolean routable, int failedChecks) {
    return new ReplicaView("41", "prod.0123456789abcdef", phase, routable, SlurmState.RUNNING, "gpu-07", T, T.plusSeconds(60),
        T.plusSeconds(3660), T.plusSeconds(120), null, null, null, failedChecks, "health answered 200", null);
  }

  @Test void anIntentIsShownAsSubmittingUnderItsTag() {
    assertEquals(new ServiceStatus.Replica("prod.0123456789abcdef", ReplicaPhase.SUBMITTING, false, null, null, T, null, null,
            null, null, null, 0, 0, "starting", null, "submitting"),
        ServiceStatus.Replica.submitting("prod.0123456789abcdef", T));
  }

  @Test void aJobWithoutAReportSinceARestartIsShownAsRecovering() {
    assertEquals(new ServiceStatus.Replica("41", ReplicaPhase.PENDING, false, null, null, T, null, null, null, null, null, 2, 0,
            "starting", null, "recovering"),
        ServiceStatus.Replica.recovering("41", T, 2));
  }

  @Test void aReportedJobIsShownFromItsView() {
    ReplicaView v = view(ReplicaPhase.READY, true, 0);
    assertEquals(new ServiceStatus.Replica("41", ReplicaPhase.READY, true, SlurmState.RUNNING, "gpu-07", T, T.plusSeconds(60),
            T.plusSeconds(3660), T.plusSeconds(120), null, null, 3, 0, "ok", 3000L, "health answered 200"),
        ServiceStatus.Replica.of(v, true, 3, 3000L, v.reason()));
  }

  @Test void healthFollowsThePhaseAndTheLastChecks() {
    assertEquals("ok", ServiceStatus.Replica.of(view(ReplicaPhase.READY, true, 0), true, 0, null, null).health());
    assertEquals("failing", ServiceStatus.Replica.of(view(ReplicaPhase.READY, false, 1), false, 0, null, null).health());
    assertEquals("failing", ServiceStatus.Replica.of(view(ReplicaPhase.READY, false, 0), false, 0, null, null).health());
    assertEquals("starting", ServiceStatus.Replica.of(view(ReplicaPhase.RUNNING, false, 0), false, 0, null, null).health());
    assertEquals("starting", ServiceStatus.Replica.of(view(ReplicaPhase.PENDING, false, 0), false, 0, null, null).health());
    assertEquals("draining", ServiceStatus.Replica.of(view(ReplicaPhase.DRAINING, false, 0), false, 0, null, null).health());
    assertEquals("ended", ServiceStatus.Replica.of(view(ReplicaPhase.ENDED, false, 0), false, 0, null, null).health());
  }

  private static ServiceStatus sample() {
    List<ServiceStatus.Replica> replicas = new ArrayList<>();
    replicas.add(ServiceStatus.Replica.submitting("prod.0123456789abcdef", T));
    replicas.add(ServiceStatus.Replica.recovering("40", T, 0));
    replicas.add(ServiceStatus.Replica.of(view(ReplicaPhase.READY, true, 0), true, 3, 3000L, "health answered 200"));
    var ended = new ReplicaView("39", "prod.1", ReplicaPhase.ENDED, false, SlurmState.CANCELLED, "gpu-01", T, T, T, null, null,
        T.plusSeconds(5), ReplicaEnd.CANCELLED, 0, "CANCELLED", null);
    replicas.add(ServiceStatus.Replica.of(ended, false, 0, 0L, "cancelling: drained"));
    return new ServiceStatus("llm", "c", T, 1, 2, 4, 2, replicas,
        new ServiceStatus.Queue(1, 10, Duration.ofSeconds(30), Map.of("alice", 1)),
        new ServiceStatus.Scaling(5, 1, 2, T, T.plusSeconds(1), Duration.ofSeconds(90)), false, null, List.of("line"), T);
  }

  @Test void theAdminJsonIsUnchanged() throws Exception {
    ServiceStatus status = sample();
    String expected = "{\"service\":\"llm\",\"cluster\":\"c\",\"created_at\":\"2030-01-01T12:00:00Z\",\"min_replicas\":1,"
        + "\"max_replicas\":2,\"max_inflight_per_replica\":4,\"target\":2,\"replicas\":["
        + "{\"job_id\":\"prod.0123456789abcdef\",\"phase\":\"SUBMITTING\",\"routable\":false,"
        + "\"submitted_at\":\"2030-01-01T12:00:00Z\",\"in_flight\":0,\"failed_checks\":0,\"health\":\"starting\","
        + "\"reason\":\"submitting\"},"
        + "{\"job_id\":\"40\",\"phase\":\"PENDING\",\"routable\":false,\"submitted_at\":\"2030-01-01T12:00:00Z\",\"in_flight\":0,"
        + "\"failed_checks\":0,\"health\":\"starting\",\"reason\":\"recovering\"},"
        + "{\"job_id\":\"41\",\"phase\":\"READY\",\"routable\":true,\"slurm_state\":\"RUNNING\",\"node\":\"gpu-07\","
        + "\"submitted_at\":\"2030-01-01T12:00:00Z\",\"started_at\":\"2030-01-01T12:01:00Z\",\"ends_at\":\"2030-01-01T13:01:00Z\","
        + "\"ready_at\":\"2030-01-01T12:02:00Z\",\"in_flight\":3,\"failed_checks\":0,\"health\":\"ok\",\"time_left_seconds\":3000,"
        + "\"reason\":\"health answered 200\"},"
        + "{\"job_id\":\"39\",\"phase\":\"ENDED\",\"routable\":false,\"slurm_state\":\"CANCELLED\",\"node\":\"gpu-01\","
        + "\"submitted_at\":\"2030-01-01T12:00:00Z\",\"started_at\":\"2030-01-01T12:00:00Z\",\"ends_at\":\"2030-01-01T12:00:00Z\","
        + "\"end\":\"CANCELLED\",\"in_flight\":0,\"failed_checks\":0,\"health\":\"ended\",\"time_left_seconds\":0,"
        + "\"reason\":\"cancelling: drained\"}],"
        + "\"queue\":{\"length\":1,\"max\":10,\"max_wait\":30.000000000,\"per_user\":{\"alice\":1}},"
        + "\"scaling\":{\"demand\":5,\"last_from\":1,\"last_to\":2,\"demand_at\":\"2030-01-01T12:00:00Z\","
        + "\"decided_at\":\"2030-01-01T12:00:01Z\",\"measured_startup\":90.000000000},"
        + "\"degraded\":false,\"log_tail\":[\"line\"],\"at\":\"2030-01-01T12:00:00Z\"}";
    assertEquals(expected, JSON.writeValueAsString(status));
    assertEquals(status, JSON.readValue(expected, ServiceStatus.class), "read back through the record constructors");
  }

  @Test void aStatusTravelsBetweenGatewayNodes() {
    var serialization = SerializationExtension.get(testKit.system().classicSystem());
    ServiceStatus status = sample();
    byte[] bytes = serialization.serialize(status).get();
    var serializer = serialization.findSerializerFor(status);
    String manifest = Serializers.manifestFor(serializer, status);
    assertEquals(status, serialization.deserialize(bytes, serializer.identifier(), manifest).get());
  }
}
