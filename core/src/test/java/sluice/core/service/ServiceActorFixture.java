package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Predicate;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import sluice.core.config.ClusterSettings;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.testing.TestClock;

/**
 * A service actor against an {@link InMemoryCluster}, both on one {@link TestClock}, and the waits its tests need (no
 * sleeps: every wait is an {@code awaitAssert} on what the service or the cluster shows). Each test class keeps its own
 * {@link ActorTestKit}; each test gets a fresh clock, cluster and service id.
 */
abstract class ServiceActorFixture {
  private static final AtomicInteger names = new AtomicInteger();

  private final ActorTestKit testKit;
  /** The time of the actors and of the cluster; a test about a deadline moves it instead of waiting. */
  final TestClock clock = TestClock.running();
  final InMemoryCluster cluster = new InMemoryCluster(clock);
  final String id = "model-" + names.incrementAndGet();

  CoreSettings.Orphans orphans = CoreSettings.Orphans.ADOPT;
  Duration submitRetryMin = Duration.ofMillis(100);
  Duration submitRetryMax = Duration.ofMillis(400);
  Duration pollInterval = Duration.ofMillis(50);

  ServiceActorFixture(ActorTestKit testKit) { this.testKit = testKit; }

  CoreSettings core() {
    return new CoreSettings("test", Map.of(), Map.of("c", new ClusterSettings("c", pollInterval)),
        Duration.ofMillis(50), Duration.ofSeconds(3), submitRetryMin, submitRetryMax,
        new CoreSettings.Recovery(orphans, 3, Duration.ofSeconds(5)), Duration.ofSeconds(30));
  }

  /** Lifecycle timings for tests: nothing renews, scales down or times out unless a test says so. */
  static ServiceSettings.Lifecycle life() {
    return new ServiceSettings.Lifecycle(Duration.ofMinutes(1), Duration.ofMinutes(1), Duration.ofMinutes(10),
        Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMillis(100), 2);
  }

  static ServiceSettings.Lifecycle life(Duration renewBefore, Duration readyTimeout, Duration scaleDownDelay, Duration idleToZero) {
    return new ServiceSettings.Lifecycle(renewBefore, Duration.ofMinutes(1), readyTimeout, scaleDownDelay, idleToZero,
        Duration.ofMillis(100), 2);
  }

  ServiceSettings settings(int min, int max, int perReplica, int maxQueue, Duration wait) {
    return settings(min, max, perReplica, maxQueue, wait, life());
  }

  ServiceSettings settings(int min, int max, int perReplica, int maxQueue, Duration wait, ServiceSettings.Lifecycle l) {
    return new ServiceSettings(id, "c", "sluice", List.of("text"), List.of("text"), min, max, perReplica, maxQueue, wait, l);
  }

  ActorRef<ServiceActor.Command> start(ServiceSettings s) {
    var ref = testKit.spawn(ServiceActor.create(s, core(), cluster, clock));
    ref.tell(ServiceActor.Wake.INSTANCE);
    return ref;
  }

  ServiceStatus status(ActorRef<ServiceActor.Command> service) {
    TestProbe<ServiceStatus> probe = testKit.createTestProbe();
    service.tell(new ServiceActor.GetStatus(probe.getRef()));
    return probe.receiveMessage();
  }

  void awaitStatus(ActorRef<ServiceActor.Command> service, Predicate<ServiceStatus> p, String what) {
    awaitStatus(service, p, what, Duration.ofSeconds(10));
  }

  void awaitStatus(ActorRef<ServiceActor.Command> service, Predicate<ServiceStatus> p, String what, Duration within) {
    TestProbe<Object> probe = testKit.createTestProbe();
    probe.awaitAssert(within, () -> {
      ServiceStatus s = status(service);
      if (!p.test(s)) throw new AssertionError(what + ", status: " + s);
      return null;
    });
  }

  void awaitSubmits(int n) {
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      assertEquals(n, cluster.submits.get());
      return null;
    });
  }

  LeaseReply acquire(ActorRef<ServiceActor.Command> service, TestProbe<LeaseReply> probe, String lease) {
    service.tell(new ServiceActor.Acquire(lease, "u", null, null, probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(10));
  }

  /** The job submitted last. */
  String newestJob() {
    return cluster.jobs.keySet().stream().max(Comparator.comparingInt(Integer::parseInt)).orElseThrow();
  }

  /** Waits for the {@code submits}-th submission, then starts that job and makes it answer its probes. */
  String readyJob(ActorRef<ServiceActor.Command> service, int submits) {
    awaitSubmits(submits);
    String job = newestJob();
    cluster.run(job);
    cluster.ready.add(job);
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(job) && r.routable()), job + " ready");
    return job;
  }

  ServiceStatus.Replica replica(ActorRef<ServiceActor.Command> service, String job) {
    return status(service).replicas().stream().filter(r -> r.jobId().equals(job)).findFirst().orElseThrow();
  }
}
