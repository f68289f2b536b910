package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.core.cluster.SlurmState;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;

/** What a service's actor exports at /metrics, read back from its node's registry while the service lives its life. */
@ExtendWith(LogCapturingExtension.class)
class ServiceMetricsTest extends ServiceActorFixture {
  static final ActorTestKit testKit = ActorTestKit.create(
      PersistenceTestKitPlugin.getInstance().config().withFallback(ConfigFactory.load()));
  static final List<String> FAMILIES = List.of("sluice_queued_requests", "sluice_queue_wait_seconds", "sluice_replicas",
      "sluice_job_events_total", "sluice_job_startup_seconds", "sluice_job_time_left_seconds");

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  final PrometheusRegistry registry = SluiceMetrics.get(testKit.system()).registry;

  ServiceMetricsTest() { super(testKit); }

  private String[] labels(String... more) {
    return Stream.concat(Stream.of("model", id), Stream.of(more)).toArray(String[]::new);
  }

  double replicas(String state) { return MetricValues.value(registry, "sluice_replicas", labels("state", state)); }

  double events(String event) { return MetricValues.value(registry, "sluice_job_events_total", labels("event", event)); }

  /** Every event of this service that is not 0. */
  Map<String, Double> eventsSeen() {
    Map<String, Double> seen = new TreeMap<>();
    for (var e : ServiceMeters.JobEvent.values()) if (events(e.label()) != 0) seen.put(e.label(), events(e.label()));
    return seen;
  }

  Double timeLeft(String job) {
    String[] l = labels("job", job);
    return MetricValues.exists(registry, "sluice_job_time_left_seconds", l)
        ? MetricValues.value(registry, "sluice_job_time_left_seconds", l) : null;
  }

  /** Waits until the replicas gauge shows exactly these counts (states not named: 0). */
  void awaitReplicas(Map<String, Integer> expected) {
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      for (var s : ServiceMeters.ReplicaState.values()) {
        assertEquals(expected.getOrDefault(s.label(), 0).doubleValue(), replicas(s.label()), s.label() + " of " + expected);
      }
      return null;
    });
  }

  void awaitTimeLeftShown(String job) {
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      assertTrue(timeLeft(job) != null, "time left of " + job + " shown");
      return null;
    });
  }

  void awaitEvent(String event, double n) {
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      assertEquals(n, events(event), event);
      return null;
    });
  }

  @Test void aServiceScaledToTwoShowsTwoReadyReplicasOneSubmittedAndOneReadyEventPerJobAndTheirTimeLeft() {
    var service = start(settings(2, 2, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(2);
    awaitReplicas(Map.of("pending", 2));
    clock.advance(Duration.ofSeconds(30));                          // 30 s in Slurm's queue
    cluster.jobs.keySet().forEach(cluster::run);                     // an hour's time limit from now
    awaitReplicas(Map.of("starting", 2));
    cluster.ready.addAll(cluster.jobs.keySet());
    awaitReplicas(Map.of("ready", 2));
    awaitStatus(service, s -> s.replicas().stream().allMatch(ServiceStatus.Replica::routable), "both routable");

    assertEquals(Map.of("submitted", 2.0, "ready", 2.0), eventsSeen());
    assertEquals(2, MetricValues.count(registry, "sluice_job_startup_seconds", labels()), "one start-up per job");
    double startup = MetricValues.sum(registry, "sluice_job_startup_seconds", labels());
    assertTrue(startup >= 60 && startup < 70, "30 s and a little each: " + startup);
    for (String job : cluster.jobs.keySet()) {
      Double left = timeLeft(job);
      assertTrue(left != null && left > 3590 && left <= 3600, job + ": " + left);
    }
    assertEquals(2, MetricValues.series(registry, "sluice_job_time_left_seconds", "model", id).size());
  }

  @Test void aQueueOfThreeWaitingRequestsShowsThreeThenZeroOnceTheyAreServed() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(30)));
    awaitSubmits(1);
    List<TestProbe<LeaseReply>> waiting = new ArrayList<>();
    for (int i = 0; i < 3; i++) {
      TestProbe<LeaseReply> p = testKit.createTestProbe();
      service.tell(new ServiceActor.Acquire("w" + i, "u", null, null, p.getRef()));
      waiting.add(p);
    }
    awaitStatus(service, s -> s.queue().length() == 3, "three waiting");
    assertEquals(3.0, MetricValues.value(registry, "sluice_queued_requests", labels()));
    clock.advance(Duration.ofSeconds(20));
    String job = cluster.onlyJob();
    cluster.run(job);
    cluster.ready.add(job);
    waiting.forEach(p -> assertInstanceOf(LeaseReply.Granted.class, p.receiveMessage(Duration.ofSeconds(10))));
    assertEquals(0.0, MetricValues.value(registry, "sluice_queued_requests", labels()));
    assertEquals(3, MetricValues.count(registry, "sluice_queue_wait_seconds", labels()));
    double waited = MetricValues.sum(registry, "sluice_queue_wait_seconds", labels());
    assertTrue(waited >= 60 && waited < 75, "20 s and a little each: " + waited);
  }

  @Test void anEndedJobLosesItsTimeLeftAndCountsOnceAsFailed() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    awaitTimeLeftShown(job);
    cluster.end(job, SlurmState.FAILED);                            // the model server crashed
    awaitSubmits(2);
    awaitEvent("failed_exit", 1);
    awaitReplicas(Map.of("pending", 1));
    assertEquals(null, timeLeft(job), "no series for a job that ended");
    assertEquals(Map.of("submitted", 2.0, "ready", 1.0, "failed_exit", 1.0), eventsSeen());
  }

  @Test void aRestartCountsNothingAgainAndAStoppedServiceExportsNothing() {
    ServiceSettings s = settings(1, 1, 4, 10, Duration.ofSeconds(10));
    var service = start(s);
    String job = readyJob(service, 1);
    awaitReplicas(Map.of("ready", 1));
    assertEquals(Map.of("submitted", 1.0, "ready", 1.0), eventsSeen());

    testKit.stop(service);
    for (String family : FAMILIES) {
      assertEquals(List.of(), MetricValues.series(registry, family, "model", id), family + " after the service stopped");
    }

    var again = start(s);
    awaitStatus(again, st -> st.replicas().size() == 1 && st.replicas().get(0).routable(), "the recovered replica serves");
    awaitReplicas(Map.of("ready", 1));
    assertEquals(Map.of(), eventsSeen(), "a recovered ready replica is neither submitted nor ready again");
    assertEquals(0, MetricValues.count(registry, "sluice_job_startup_seconds", labels()));
    awaitTimeLeftShown(job);
    assertEquals(1, cluster.submits.get());
  }

  @Test void aSubmissionWhoseAnswerWasLostInACrashCountsOnceWhenItsJobIsFoundByItsTag() {
    ServiceSettings s = settings(1, 1, 4, 10, Duration.ofSeconds(10));
    cluster.loseSubmitReplies = true;                                // sbatch ran, the gateway died before the answer
    var service = start(s);
    awaitSubmits(1);
    assertEquals(0.0, events("submitted"), "no job id yet");
    testKit.stop(service);
    cluster.loseSubmitReplies = false;

    var again = start(s);
    awaitStatus(again, st -> st.replicas().size() == 1 && st.replicas().get(0).phase() != ReplicaPhase.SUBMITTING, "adopted");
    awaitEvent("submitted", 1);
    assertEquals(1, cluster.submits.get());
  }

  @Test void aRenewalCountsRenewedAndTheDrainedReplicaEndsNormally() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    awaitSubmits(1);
    String old = cluster.onlyJob();
    Instant started = clock.instant().minusSeconds(300);
    cluster.run(old, started, started.plusSeconds(3600));
    cluster.ready.add(old);
    awaitStatus(service, st -> st.replicas().stream().anyMatch(r -> r.jobId().equals(old) && r.routable()), "old ready");
    cluster.run(old, started, clock.instant().plusSeconds(20));     // 20 s left: renewal is due
    String fresh = readyJob(service, 2);
    awaitStatus(service, st -> st.replicas().size() == 1 && st.replicas().get(0).jobId().equals(fresh), "renewed");
    awaitEvent("ended", 1);
    awaitReplicas(Map.of("ready", 1));
    assertEquals(Map.of("submitted", 2.0, "ready", 2.0, "renewed", 1.0, "ended", 1.0), eventsSeen());
    assertEquals(null, timeLeft(old));
  }

  @Test void anOperatorsDrainCountsDrained() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    TestProbe<AdminReply> admin = testKit.createTestProbe();
    service.tell(new ServiceActor.DrainReplica(job, admin.getRef()));
    assertInstanceOf(AdminReply.Done.class, admin.receiveMessage());
    awaitEvent("ended", 1);
    assertEquals(1.0, events("drained"));
    assertEquals(0.0, events("renewed"));
  }

  @Test void aJobThatMissesReadyTimeoutCountsAsAFailedStart() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    awaitSubmits(1);
    String job = cluster.onlyJob();
    cluster.run(job);                                                // runs, never answers its health check
    awaitStatus(service, s -> s.replicas().get(0).phase() == ReplicaPhase.RUNNING, "running");
    clock.advance(Duration.ofMinutes(10));
    awaitEvent("failed_start", 1);
    assertEquals(0.0, events("ended"), "cancelled by the service, but as a failed start");
    assertEquals(0.0, events("ready"));
    assertEquals(0.0, events("failed_cancelled"));
  }

  @Test void aReplicaFailingItsHealthChecksShowsFailingThenCountsAsFailedHealth() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    cluster.ready.remove(job);                                       // the model server stops answering
    awaitEvent("failed_health", 1);
    assertEquals(0.0, events("ended"));
    assertEquals(0.0, events("failed_cancelled"));
  }

  @Test void aFailingReplicaCountsAsFailingNotReady() {
    // Many health failures allowed, so it stays failing long enough to be seen.
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10), new ServiceSettings.Lifecycle(Duration.ofMinutes(1),
        Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMillis(100),
        1000)));
    String job = readyJob(service, 1);
    awaitReplicas(Map.of("ready", 1));
    cluster.ready.remove(job);
    awaitReplicas(Map.of("failing", 1));
    cluster.ready.add(job);
    awaitReplicas(Map.of("ready", 1));
    assertEquals(Map.of("submitted", 1.0, "ready", 1.0), eventsSeen(), "a replica that recovers is not ready again");
  }
}
