package sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * The fields of {@code GET /admin/services/{id}} (the gateway's ServiceStatus, snake_case) that the lifecycle bench
 * reads. Timestamps are the gateway's wall clock, the same clock as the bench's on this one machine.
 *
 * @param demandAt  when demand first needed more replicas than the target, for the last scale-up (else null)
 * @param decidedAt when the autoscaler last changed the target
 */
record ServiceView(String service, int target, int lastFrom, int lastTo, Instant demandAt, Instant decidedAt,
                   List<Replica> replicas) {
  ServiceView {
    replicas = List.copyOf(replicas);
  }

  /** One replica; {@code jobId} is the intent's tag while the phase is SUBMITTING (sbatch has not answered yet). */
  record Replica(String jobId, String phase, boolean routable, Instant submittedAt, Instant startedAt, Instant endsAt,
                 Instant readyAt, Instant drainingAt) {
    /** sbatch answered: the job has an id and the scheduler lists it. */
    boolean submitted() {
      return !phase.equals("SUBMITTING");
    }

    boolean live() {
      return !phase.equals("ENDED");
    }
  }

  static ServiceView parse(JsonNode n) {
    List<Replica> replicas = new ArrayList<>();
    for (JsonNode r : n.path("replicas")) {
      replicas.add(new Replica(r.path("job_id").asText(), r.path("phase").asText("?"), r.path("routable").asBoolean(),
          instant(r, "submitted_at"), instant(r, "started_at"), instant(r, "ends_at"), instant(r, "ready_at"),
          instant(r, "draining_at")));
    }
    JsonNode s = n.path("scaling");
    return new ServiceView(n.path("service").asText(), n.path("target").asInt(), s.path("last_from").asInt(),
        s.path("last_to").asInt(), instant(s, "demand_at"), instant(s, "decided_at"), replicas);
  }

  long routable() {
    return replicas.stream().filter(Replica::routable).count();
  }

  /** Replicas whose job is not over: submitting, pending, loading, ready or draining. */
  long live() {
    return replicas.stream().filter(Replica::live).count();
  }

  private static Instant instant(JsonNode parent, String field) {
    JsonNode v = parent.get(field);
    return v == null || v.isNull() || v.asText().isEmpty() ? null : Instant.parse(v.asText());
  }
}
