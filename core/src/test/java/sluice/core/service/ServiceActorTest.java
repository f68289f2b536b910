package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.core.cluster.SlurmState;
import sluice.core.config.ClusterSettings;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;

@ExtendWith(LogCapturingExtension.class)
class ServiceActorTest {
  static final ActorTestKit testKit = ActorTestKit.create(
      PersistenceTestKitPlugin.getInstance().config().withFallback(ConfigFactory.load()));
  private static final AtomicInteger names = new AtomicInteger();

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private final InMemoryCluster cluster = new InMemoryCluster();
  private final String id = "model-" + names.incrementAndGet();

  private static CoreSettings core() {
    return new CoreSettings("test", Map.of(), Map.of("c", new ClusterSettings("c", Duration.ofMillis(50))),
        Duration.ofMillis(50), Duration.ofSeconds(3), Duration.ofMillis(100), Duration.ofMillis(400));
  }

  private ServiceSettings settings(int min, int max, int perReplica, int maxQueue, Duration wait) {
    return new ServiceSettings(id, "c", "sluice", List.of("text"), List.of("text"), min, max, perReplica, maxQueue, wait);
  }

  private ActorRef<ServiceActor.Command> start(ServiceSettings s) {
    var ref = testKit.spawn(ServiceActor.create(s, core(), cluster, Clock.systemUTC()));
    ref.tell(ServiceActor.Wake.INSTANCE);
    return ref;
  }

  private ServiceStatus status(ActorRef<ServiceActor.Command> service) {
    TestProbe<ServiceStatus> probe = testKit.createTestProbe();
    service.tell(new ServiceActor.GetStatus(probe.getRef()));
    return probe.receiveMessage();
  }

  private void awaitStatus(ActorRef<ServiceActor.Command> service, java.util.function.Predicate<ServiceStatus> p, String what) {
    TestProbe<Object> probe = testKit.createTestProbe();
    probe.awaitAssert(Duration.ofSeconds(10), () -> {
      ServiceStatus s = status(service);
      if (!p.test(s)) throw new AssertionError(what + ", status: " + s);
      return null;
    });
  }

  private void awaitSubmits(int n) {
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      assertEquals(n, cluster.submits.get());
      return null;
    });
  }

  private LeaseReply acquire(ActorRef<ServiceActor.Command> service, TestProbe<LeaseReply> probe, String lease) {
    service.tell(new ServiceActor.Acquire(lease, probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(10));
  }

  @Test void keepsMinReplicasAndRoutesOnlyToAReadyReplica() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(1);
    String job = cluster.onlyJob();
    TestProbe<LeaseReply> probe = testKit.createTestProbe();
    service.tell(new ServiceActor.Acquire("lease-1", probe.getRef()));
    probe.expectNoMessage(Duration.ofMillis(300));            // pending job: the request waits
    cluster.run(job);
    awaitStatus(service, s -> s.replicas().get(0).phase() == ReplicaPhase.RUNNING, "running");
    probe.expectNoMessage(Duration.ofMillis(300));            // running but the model is still loading
    assertEquals("loading", status(service).availability());
    cluster.ready.add(job);
    var granted = assertInstanceOf(LeaseReply.Granted.class, probe.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(job, granted.jobId());
    ServiceStatus s = status(service);
    assertEquals("ready", s.availability());
    assertEquals(ReplicaPhase.READY, s.replicas().get(0).phase());
    assertEquals("node-1", s.replicas().get(0).node());
    assertEquals(1, s.replicas().get(0).inFlight());
    service.tell(new ServiceActor.Release("lease-1"));
    awaitStatus(service, st -> st.inFlight() == 0, "released");
    assertEquals(1, cluster.submits.get(), "one replica was asked for, one job was submitted");
  }

  @Test void waitingRequestGetsUnavailableWithRetryHintAfterTheQueueWait() {
    var service = start(settings(1, 1, 4, 10, Duration.ofMillis(300)));
    awaitSubmits(1);
    TestProbe<LeaseReply> probe = testKit.createTestProbe();
    var reply = assertInstanceOf(LeaseReply.Unavailable.class, acquire(service, probe, "l"));
    assertEquals(5, reply.retryAfterSeconds(), "a replica is starting, so retry soon");
    assertTrue(reply.reason().contains("within"), reply.reason());
  }

  @Test void aFullQueueRefusesAtOnce() {
    var service = start(settings(1, 1, 4, 1, Duration.ofSeconds(30)));
    awaitSubmits(1);
    TestProbe<LeaseReply> first = testKit.createTestProbe();
    service.tell(new ServiceActor.Acquire("a", first.getRef()));
    TestProbe<LeaseReply> second = testKit.createTestProbe();
    var reply = assertInstanceOf(LeaseReply.Unavailable.class, acquire(service, second, "b"));
    assertTrue(reply.reason().contains("queue"), reply.reason());
    assertEquals(1, status(service).queued());
  }

  @Test void requestsGoToTheLeastLoadedReplicaAndQueueAtTheLimit() {
    var service = start(settings(2, 2, 1, 10, Duration.ofSeconds(10)));
    awaitSubmits(2);
    cluster.jobs.keySet().forEach(j -> {
      cluster.run(j);
      cluster.ready.add(j);
    });
    awaitStatus(service, s -> s.replicas().stream().allMatch(ServiceStatus.Replica::routable), "both ready");
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    var a = (LeaseReply.Granted) acquire(service, p, "a");
    var b = (LeaseReply.Granted) acquire(service, p, "b");
    assertNotEquals(a.jobId(), b.jobId(), "the second request goes to the idle replica");
    service.tell(new ServiceActor.Acquire("c", p.getRef()));
    p.expectNoMessage(Duration.ofMillis(200));                 // both at max-inflight-per-replica = 1
    service.tell(new ServiceActor.Release("a"));
    assertEquals(a.jobId(), ((LeaseReply.Granted) p.receiveMessage()).jobId(), "the freed replica takes the queued request");
  }

  @Test void anEndedJobIsForgottenWithItsReasonAndReplaced() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(1);
    String first = cluster.onlyJob();
    cluster.run(first);
    cluster.ready.add(first);
    awaitStatus(service, s -> "ready".equals(s.availability()), "ready");
    cluster.end(first, SlurmState.FAILED);
    awaitSubmits(2);
    awaitStatus(service, s -> s.replicas().size() == 1 && !s.replicas().get(0).jobId().equals(first), "replaced");
  }

  @Test void aJobThatVanishesFromTheSchedulerCountsAsEnded() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(1);
    cluster.jobs.remove(cluster.onlyJob());
    awaitSubmits(2);
  }

  @Test void restartRecoversFromTheJournalAndReadoptsTheRunningJob() {
    ServiceSettings s = settings(1, 1, 4, 10, Duration.ofSeconds(10));
    var service = start(s);
    awaitSubmits(1);
    String job = cluster.onlyJob();
    cluster.run(job);
    cluster.ready.add(job);
    awaitStatus(service, st -> "ready".equals(st.availability()), "ready");
    testKit.stop(service);

    var again = start(s);
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    var granted = (LeaseReply.Granted) acquire(again, p, "after-restart");
    assertEquals(job, granted.jobId(), "the recovered replica serves");
    ServiceStatus st = status(again);
    assertEquals(ReplicaPhase.READY, st.replicas().get(0).phase());
    assertEquals(1, cluster.submits.get(), "re-adopted: no new submission");
  }

  @Test void aSubmissionInterruptedByACrashIsFoundByItsTag() {
    ServiceSettings s = settings(1, 1, 4, 10, Duration.ofSeconds(10));
    cluster.loseSubmitReplies = true;                           // sbatch ran, the gateway died before the answer
    var service = start(s);
    awaitSubmits(1);
    testKit.stop(service);
    cluster.loseSubmitReplies = false;

    var again = start(s);
    awaitStatus(again, st -> st.replicas().size() == 1, "adopted by tag");
    assertEquals(cluster.onlyJob(), status(again).replicas().get(0).jobId());
    assertEquals(1, cluster.submits.get(), "nothing submitted twice");
  }

  @Test void aFailedSubmissionIsReportedAndRetriedWithBackoff() {
    cluster.failNextSubmits = 3;                               // retried after 100, 200 and 400 ms
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitStatus(service, st -> st.lastError() != null && st.lastError().contains("QOSMaxSubmitJobPerUserLimit"), "error shown");
    awaitSubmits(4);
    awaitStatus(service, st -> st.replicas().size() == 1 && st.lastError() == null, "fourth attempt succeeded");
  }
}
