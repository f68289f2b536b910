package sluice.edge.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaEnd;
import sluice.core.job.ReplicaPhase;
import sluice.core.service.ServiceStatus;
import sluice.core.service.ServiceStatus.Replica;
import sluice.edge.dashboard.JobEvents.Event;

/** The dashboard's job events: what an operator reads about replicas from two successive looks at the services. */
class JobEventsTest {
  static final Instant T = Instant.parse("2026-05-01T12:00:00Z");

  static Replica replica(String job, ReplicaPhase phase, ReplicaEnd end, String reason) {
    return new Replica(job, phase, phase == ReplicaPhase.READY, SlurmState.RUNNING, "gpu1", T, T, T.plusSeconds(3600), null,
        null, end, 0, 0, "ok", 3600L, reason);
  }

  static ServiceStatus service(String id, Replica... replicas) {
    return new ServiceStatus(id, "hpc", T, 1, 2, 8, 1, List.of(replicas), new ServiceStatus.Queue(0, 100, Duration.ofSeconds(30), Map.of()),
        null, false, null, List.of(), T);
  }

  static Map<String, Map<String, Replica>> seen(ServiceStatus... statuses) {
    return JobEvents.remember(Map.of(), List.of(statuses));
  }

  @Test void aServiceSeenForTheFirstTimeOnlySetsTheBaseline() {
    assertEquals(List.of(), JobEvents.diff(Map.of(), List.of(service("llama", replica("1", ReplicaPhase.READY, null, null))), T));
  }

  @Test void aNewReplicaAPhaseChangeAndAnEndAreEachOneEvent() {
    var before = seen(service("llama", replica("1", ReplicaPhase.PENDING, null, "Priority"),
        replica("2", ReplicaPhase.READY, null, null)));
    var now = List.of(service("llama", replica("1", ReplicaPhase.RUNNING, null, "loading"),
        replica("2", ReplicaPhase.ENDED, ReplicaEnd.TIMED_OUT, "time limit reached"),
        replica("3", ReplicaPhase.PENDING, null, "Resources")));

    assertEquals(List.of(
        new Event(T, "llama", "1", "pending", "running", "loading"),
        new Event(T, "llama", "2", "ready", "ended", "timed out: time limit reached"),
        new Event(T, "llama", "3", null, "pending", "Resources")), JobEvents.diff(before, now, T));
  }

  @Test void aReplicaNoLongerListedIsGoneUnlessItHadEndedOrWasOnlyASubmission() {
    var before = seen(service("llama", replica("1", ReplicaPhase.READY, null, null),
        replica("2", ReplicaPhase.ENDED, ReplicaEnd.COMPLETED, null), replica("tag-x", ReplicaPhase.SUBMITTING, null, null)));

    assertEquals(List.of(new Event(T, "llama", "1", "ready", "gone", "no longer listed by the service")),
        JobEvents.diff(before, List.of(service("llama")), T));
  }

  @Test void aServiceThatDidNotAnswerHasNoEventsAndKeepsItsLastLook() {
    var before = seen(service("llama", replica("1", ReplicaPhase.READY, null, null)), service("mistral"));
    var events = new JobEvents(10);
    events.observe(List.of(service("llama", replica("1", ReplicaPhase.READY, null, null)), service("mistral")), T);

    assertEquals(List.of(), JobEvents.diff(before, List.of(service("mistral")), T), "llama did not answer: not gone");
    events.observe(List.of(service("mistral")), T.plusSeconds(1));
    assertEquals(List.of(new Event(T.plusSeconds(2), "llama", "1", "ready", "draining", null)),
        events.observe(List.of(service("llama", replica("1", ReplicaPhase.DRAINING, null, null))), T.plusSeconds(2)));
  }

  @Test void theNewestEventsAreKeptNewestFirst() {
    var events = new JobEvents(2);
    events.observe(List.of(service("llama")), T);
    events.observe(List.of(service("llama", replica("1", ReplicaPhase.PENDING, null, null))), T.plusSeconds(1));
    events.observe(List.of(service("llama", replica("1", ReplicaPhase.RUNNING, null, null))), T.plusSeconds(2));
    List<Event> recent = events.observe(List.of(service("llama", replica("1", ReplicaPhase.READY, null, null))), T.plusSeconds(3));

    assertEquals(List.of("ready", "running"), recent.stream().map(Event::to).toList());
    assertEquals(T.plusSeconds(3), recent.get(0).at());
  }
}
