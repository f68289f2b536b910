package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.core.job.ReplicaPhase;

/**
 * Deadlines of the service actor reached by moving the test's clock, not by waiting: the renewal window and the time
 * left, the drain-timeout, ready-timeout with the submission back-off, and the degraded refusal in between.
 */
@ExtendWith(LogCapturingExtension.class)
class ServiceDeadlinesTest extends ServiceActorFixture {
  static final ActorTestKit testKit = ActorTestKit.create(
      PersistenceTestKitPlugin.getInstance().config().withFallback(ConfigFactory.load()));

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  ServiceDeadlinesTest() { super(testKit); }

  @Test void aReplicaIsRenewedWhenTheClockReachesItsRenewalWindowAndItsTimeLeftCountsDown() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    String old = readyJob(service, 1);                                       // an hour of time limit
    long before = replica(service, old).timeLeftSeconds();
    assertTrue(before > 3500 && before <= 3600, "time left " + before);
    clock.advance(Duration.ofMinutes(59));
    long after = replica(service, old).timeLeftSeconds();
    assertTrue(before - after >= 3540 && before - after <= 3545, "time left " + before + " s, 59 minutes later " + after + " s");
    clock.advance(Duration.ofSeconds(40));                                   // 20 s left: within renew-before (30 s)
    awaitSubmits(2);
    String fresh = readyJob(service, 2);
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(old), cluster.cancelledJobs(), "the old replica, idle, is drained and cancelled");
      return null;
    });
    awaitStatus(service, s -> s.replicas().size() == 1 && s.replicas().get(0).jobId().equals(fresh), "renewed");
    assertEquals(2, cluster.submits.get());
  }

  @Test void aDrainedReplicaStillServingIsCancelledWhenTheDrainTimeoutPasses() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));    // drain-timeout 1 min
    String job = readyJob(service, 1);
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    assertEquals(job, ((LeaseReply.Granted) acquire(service, p, "long")).jobId());
    TestProbe<AdminReply> admin = testKit.createTestProbe();
    service.tell(new ServiceActor.DrainReplica(job, admin.getRef()));
    assertInstanceOf(AdminReply.Done.class, admin.receiveMessage());
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(job) && r.phase() == ReplicaPhase.DRAINING),
        "draining");
    awaitSubmits(2);                                                         // its replacement
    assertEquals(List.of(), cluster.cancelledJobs(), "a request still runs on it");
    clock.advance(Duration.ofMinutes(1));
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(job), cluster.cancelledJobs(), "cancelled at the drain-timeout");
      return null;
    });
  }

  @Test void aDegradedServiceRefusesAtOnceWhileItsNextAttemptIsFurtherAwayThanTheQueueWait() {
    submitRetryMin = Duration.ofMinutes(1);                                  // back-off 1, 2, 4 minutes
    submitRetryMax = Duration.ofMinutes(10);
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    for (int i = 1; i <= 3; i++) {
      awaitSubmits(i);
      String job = newestJob();
      cluster.run(job);
      awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(job) && r.phase() == ReplicaPhase.RUNNING),
          job + " running");
      clock.advance(Duration.ofMinutes(10));                                 // ready-timeout: a failed start
      awaitStatus(service, s -> s.replicas().isEmpty(), job + " cancelled and forgotten");
      if (i < 3) clock.advance(Duration.ofMinutes(1L << (i - 1)));           // its back-off
    }
    assertTrue(status(service).degraded());
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    var refused = assertInstanceOf(LeaseReply.Unavailable.class, acquire(service, p, "a"));
    assertEquals(LeaseRefusal.DEGRADED, refused.reason());
    assertTrue(refused.message().contains("ready-timeout"), refused.message());
    assertTrue(refused.retryAfterSeconds() > 200 && refused.retryAfterSeconds() <= 245,
        "the back-off left (4 min) plus the assumed start-up (5 s), got " + refused.retryAfterSeconds());
    assertEquals(3, cluster.submits.get(), "nothing submitted during the back-off");
    clock.advance(Duration.ofMinutes(4));
    String good = readyJob(service, 4);
    awaitStatus(service, s -> !s.degraded() && s.lastError() == null, "recovered");
    assertEquals(good, ((LeaseReply.Granted) acquire(service, p, "b")).jobId());
  }
}
