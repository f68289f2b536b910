package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.SlurmState;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;

@ExtendWith(LogCapturingExtension.class)
class ServiceActorTest extends ServiceActorFixture {
  static final ActorTestKit testKit = ActorTestKit.create(
      PersistenceTestKitPlugin.getInstance().config().withFallback(ConfigFactory.load()));

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  ServiceActorTest() { super(testKit); }

  @Test void aJobThatStartsRightAfterItsSubmissionIsSeenRunningWellBeforeTheNextRegularPoll() {
    pollInterval = Duration.ofSeconds(8);                     // extra listings 1 s, 3 s and 7 s after the answer
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(1);
    cluster.run(cluster.onlyJob());
    awaitStatus(service, s -> s.replicas().get(0).phase() == ReplicaPhase.RUNNING, "running before the 8 s poll",
        Duration.ofMillis(2500));
  }

  @Test void keepsMinReplicasAndRoutesOnlyToAReadyReplica() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(1);
    String job = cluster.onlyJob();
    TestProbe<LeaseReply> probe = testKit.createTestProbe();
    service.tell(new ServiceActor.Acquire("lease-1", "u", null, null, probe.getRef()));
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
    service.tell(new ServiceActor.Release("lease-1", false));
    awaitStatus(service, st -> st.inFlight() == 0, "released");
    assertEquals(1, cluster.submits.get(), "one replica was asked for, one job was submitted");
  }

  @Test void waitingRequestGetsUnavailableWithRetryHintAfterTheQueueWait() {
    var service = start(settings(1, 1, 4, 10, Duration.ofMillis(300)));
    awaitSubmits(1);
    TestProbe<LeaseReply> probe = testKit.createTestProbe();
    var reply = assertInstanceOf(LeaseReply.Unavailable.class, acquire(service, probe, "l"));
    assertTrue(reply.retryAfterSeconds() >= 4 && reply.retryAfterSeconds() <= 5,
        "a replica is starting: the rest of the assumed 5 s start-up, got " + reply.retryAfterSeconds());
    assertEquals(LeaseRefusal.QUEUE_TIMEOUT, reply.reason());
    assertTrue(reply.message().contains("within"), reply.message());
  }

  @Test void aFullQueueRefusesAtOnce() {
    var service = start(settings(1, 1, 4, 1, Duration.ofSeconds(30)));
    awaitSubmits(1);
    TestProbe<LeaseReply> first = testKit.createTestProbe();
    service.tell(new ServiceActor.Acquire("a", "u", null, null, first.getRef()));
    TestProbe<LeaseReply> second = testKit.createTestProbe();
    var reply = assertInstanceOf(LeaseReply.Unavailable.class, acquire(service, second, "b"));
    assertEquals(LeaseRefusal.QUEUE_FULL, reply.reason());
    assertTrue(reply.message().contains("queue"), reply.message());
    assertEquals(1, status(service).queue().length());
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
    service.tell(new ServiceActor.Acquire("c", "u", null, null, p.getRef()));
    p.expectNoMessage(Duration.ofMillis(200));                 // both at max-inflight-per-replica = 1
    service.tell(new ServiceActor.Release("a", false));
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
    awaitStatus(again, st -> st.replicas().size() == 1 && st.replicas().get(0).phase() != ReplicaPhase.SUBMITTING, "adopted by tag");
    assertEquals(cluster.onlyJob(), status(again).replicas().get(0).jobId());
    assertEquals(1, cluster.submits.get(), "nothing submitted twice");
  }

  @Test void aFailedSubmissionIsReportedAndRetriedWithBackoff() {
    submitRetryMin = Duration.ofMinutes(1);
    submitRetryMax = Duration.ofMinutes(10);
    cluster.failNextSubmits = 3;                               // retried after 1, 2 and 4 minutes
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    awaitStatus(service, st -> st.lastError() != null && st.lastError().contains("QOSMaxSubmitJobPerUserLimit"), "error shown");
    for (int failed = 1; failed <= 3; failed++) {
      awaitSubmits(failed);
      awaitStatus(service, st -> st.replicas().isEmpty(), "the failed submission's intent is dropped");
      assertEquals(failed, cluster.submits.get(), "no retry before the back-off has passed");
      clock.advance(Duration.ofMinutes(1L << (failed - 1)));
    }
    awaitSubmits(4);
    awaitStatus(service, st -> st.replicas().size() == 1 && st.lastError() == null, "fourth attempt succeeded");
  }

  // ---------------------------------------------------------------- lifecycle: scaling, renewal, health, orphans, admin

  @Test void queuedDemandScalesUpAtOnceAndIdleReplicasAreDrainedAfterTheDelay() {
    var service = start(settings(1, 3, 1, 10, Duration.ofSeconds(10),
        life(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMillis(500), Duration.ofMinutes(10))));
    String first = readyJob(service, 1);
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    assertEquals(first, ((LeaseReply.Granted) acquire(service, p, "a")).jobId());
    service.tell(new ServiceActor.Acquire("b", "u", null, null, p.getRef()));      // the only replica is full: b waits
    awaitSubmits(2);                                                        // ... and a second job is on its way
    ServiceStatus st = status(service);
    assertEquals(2, st.target());
    assertEquals(1, st.scaling().lastFrom());
    assertEquals(2, st.scaling().lastTo());
    assertTrue(!st.scaling().decidedAt().isBefore(st.scaling().demandAt()), st.scaling().toString());
    String second = readyJob(service, 2);
    assertEquals(second, ((LeaseReply.Granted) p.receiveMessage()).jobId(), "the waiting request goes to the new replica");
    service.tell(new ServiceActor.Release("a", false));
    service.tell(new ServiceActor.Release("b", false));
    awaitStatus(service, s -> s.target() == 1, "scaled back to min after the delay");
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
      assertEquals(1, cluster.cancelledJobs().size(), "one idle replica drained and cancelled");
      return null;
    });
    awaitStatus(service, s -> s.replicas().size() == 1 && s.replicas().get(0).routable(), "one replica left, serving");
    assertEquals(2, cluster.submits.get());
  }

  @Test void aModelAtZeroReplicasQueuesTheRequestStartsAJobAndGoesBackToZeroWhenIdle() {
    var service = start(settings(0, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMillis(100), Duration.ofMillis(600))));
    TestProbe<Object> wait = testKit.createTestProbe();
    wait.expectNoMessage(Duration.ofMillis(300));
    assertEquals(0, cluster.submits.get(), "min-replicas = 0: nothing runs without demand");
    assertEquals("offline", status(service).availability());
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    service.tell(new ServiceActor.Acquire("first", "u", null, null, p.getRef()));
    String job = readyJob(service, 1);
    assertEquals(job, ((LeaseReply.Granted) p.receiveMessage()).jobId(), "the request waited for the job it started");
    service.tell(new ServiceActor.Release("first", false));
    awaitStatus(service, s -> s.target() == 0 && s.replicas().isEmpty(), "back to zero after idle-to-zero");
    assertEquals(List.of(job), cluster.cancelledJobs());
  }

  @Test void aReplicaNearItsTimeLimitIsReplacedThenDrainedWithoutCuttingItsRequests() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofSeconds(30), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    awaitSubmits(1);
    String old = cluster.onlyJob();
    Instant started = clock.instant().minusSeconds(300);                    // running for 5 minutes: renewal is not
    cluster.run(old, started, started.plusSeconds(3600));                  // capped by half of a short run
    cluster.ready.add(old);
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(old) && r.routable()), "old ready");
    cluster.run(old, started, clock.instant().plusSeconds(20));            // Slurm moves its end: 20 s left
    awaitSubmits(2);                                                          // the replacement, ahead of the limit
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    assertEquals(old, ((LeaseReply.Granted) acquire(service, p, "long")).jobId(), "the old replica serves meanwhile");
    String fresh = readyJob(service, 2);
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(old) && r.phase() == ReplicaPhase.DRAINING),
        "the old replica drains once the new one is ready");
    assertEquals(fresh, ((LeaseReply.Granted) acquire(service, p, "next")).jobId(), "new requests go to the new replica");
    assertEquals(List.of(), cluster.cancelledJobs(), "not cancelled while a request runs on it");
    service.tell(new ServiceActor.Release("long", false));
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(old), cluster.cancelledJobs(), "cancelled once its last request ended");
      return null;
    });
    awaitStatus(service, s -> s.replicas().size() == 1 && s.replicas().get(0).jobId().equals(fresh), "renewed");
    assertEquals(2, cluster.submits.get());
  }

  @Test void aJobThatNeverBecomesReadyIsCancelledRetriedAndTheServiceShowsDegradedWithTheLog() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10),
        life(Duration.ofMinutes(1), Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofMinutes(10))));
    for (int i = 1; i <= 3; i++) {
      awaitSubmits(i);
      String job = cluster.jobs.keySet().stream().max(Comparator.comparingInt(Integer::parseInt)).orElseThrow();
      cluster.run(job);                                                      // runs, but its health never answers 200
      awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(job) && r.phase() == ReplicaPhase.RUNNING),
          job + " running");
      assertFalse(cluster.cancelledJobs().contains(job), "not cancelled before ready-timeout");
      clock.advance(Duration.ofMinutes(10));                                 // ready-timeout passes
      testKit.createTestProbe().awaitAssert(Duration.ofSeconds(10), () -> {
        assertTrue(cluster.cancelledJobs().contains(job), "job " + job + " cancelled after ready-timeout");
        return null;
      });
    }
    awaitStatus(service, ServiceStatus::degraded, "degraded after 3 failed starts");
    ServiceStatus st = status(service);
    assertTrue(st.lastError().contains("ready-timeout"), st.lastError());
    awaitStatus(service, s -> s.logTail().stream().anyMatch(l -> l.contains("CUDA error")), "the failed job's log is shown");
    awaitSubmits(4);                                                         // still retrying, with backoff
    String good = cluster.jobs.keySet().stream().max(Comparator.comparingInt(Integer::parseInt)).orElseThrow();
    cluster.run(good);
    cluster.ready.add(good);
    awaitStatus(service, s -> !s.degraded() && "ready".equals(s.availability()) && s.lastError() == null, "recovered");
  }

  @Test void aReplicaFailingHealthChecksStopsTakingTrafficAndIsReplaced() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    cluster.ready.remove(job);                                               // the model server stops answering
    awaitStatus(service, s -> s.replicas().stream().noneMatch(ServiceStatus.Replica::routable), "no traffic to it");
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(job), cluster.cancelledJobs(), "cancelled after 2 failed checks");
      return null;
    });
    String replacement = readyJob(service, 2);
    assertNotEquals(job, replacement);
  }

  @Test void aHealthCheckThatTimesOutWhileTheReplicaAnswersRequestsKeepsItsTraffic() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    // A busy model server: its health path answers too late, while the requests it serves keep getting answers.
    cluster.whileProbing = () -> service.tell(new ServiceActor.ReplicaAnswered(job));
    cluster.probesTimeOut = true;
    int probed = cluster.probes.get();
    awaitStatus(service, s -> replica(service, job).reason().contains("keeps its traffic"), "the late check is shown");
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(cluster.probes.get() >= probed + 5, "more late checks than health-failures (2)");
      return null;
    });
    ServiceStatus.Replica slow = replica(service, job);
    assertTrue(slow.routable(), "still takes traffic");
    assertEquals(0, slow.failedChecks());
    assertEquals(List.of(), cluster.cancelledJobs());
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    assertEquals(job, ((LeaseReply.Granted) acquire(service, p, "while-slow")).jobId());
    cluster.probesTimeOut = false;                                           // the health path answers in time again
    awaitStatus(service, s -> replica(service, job).reason().equals("health answered 200"), "an ordinary check again");
  }

  @Test void aHealthCheckThatTimesOutWhileTheReplicaAnswersNothingStopsItsTrafficAndReplacesIt() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    cluster.probesTimeOut = true;                                            // hung: no answer to anything
    awaitStatus(service, s -> s.replicas().stream().noneMatch(ServiceStatus.Replica::routable), "no traffic to it");
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(job), cluster.cancelledJobs(), "cancelled after 2 late checks");
      return null;
    });
  }

  @Test void aReplicaBehindAnUnresponsiveAgentTakesNoTrafficIsNotReplacedAndServesWhenTheAgentAnswers() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    cluster.probesFailWith = ClusterFailure.TUNNEL_UNRESPONSIVE;             // the agent stops answering its pings
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    service.tell(new ServiceActor.Release(((LeaseReply.Granted) acquire(service, p, "cut-short")).leaseId(), true));
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> !r.routable() && "unreachable".equals(r.health())),
        "no traffic to the replica it cannot reach");
    var refused = (LeaseReply.Unavailable) acquire(service, p, "during");
    assertEquals(LeaseRefusal.TUNNEL_UNRESPONSIVE, refused.reason(), "refused at once, not after the 10 s queue wait");
    assertEquals(5, refused.retryAfterSeconds());
    // Many more checks than health-failures (2) fail to reach it, also for a lost connection: none counts.
    cluster.probesFailWith = ClusterFailure.UNAVAILABLE;
    int probed = cluster.probes.get();
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertTrue(cluster.probes.get() >= probed + 10, "ten more checks");
      return null;
    });
    assertEquals(List.of(), cluster.cancelledJobs());
    assertEquals(0, replica(service, job).failedChecks());
    assertEquals(1, cluster.submits.get());
    cluster.probesFailWith = null;                                           // it answers again
    awaitStatus(service, s -> replica(service, job).routable() && "ok".equals(replica(service, job).health()), "serving again");
    assertEquals(job, ((LeaseReply.Granted) acquire(service, p, "after")).jobId());
  }

  @Test void aFailedRequestIsRetriedOnAnotherReplica() {
    var service = start(settings(2, 2, 4, 10, Duration.ofSeconds(10)));
    awaitSubmits(2);
    cluster.jobs.keySet().forEach(j -> {
      cluster.run(j);
      cluster.ready.add(j);
    });
    awaitStatus(service, s -> s.replicas().stream().filter(ServiceStatus.Replica::routable).count() == 2, "both ready");
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    String first = ((LeaseReply.Granted) acquire(service, p, "try-1")).jobId();
    service.tell(new ServiceActor.Release("try-1", true));
    service.tell(new ServiceActor.Acquire("try-2", "u", first, null, p.getRef()));
    assertNotEquals(first, ((LeaseReply.Granted) p.receiveMessage()).jobId(), "the retry avoids the replica that failed");
  }

  @Test void theQueueIsFairBetweenUsers() {
    var service = start(settings(1, 1, 1, 10, Duration.ofSeconds(10)));
    readyJob(service, 1);
    TestProbe<LeaseReply> busy = testKit.createTestProbe();
    acquire(service, busy, "running");
    List<TestProbe<LeaseReply>> waiting = new ArrayList<>();
    for (String lease : List.of("alice-1", "alice-2", "alice-3", "bob-1")) {
      TestProbe<LeaseReply> p = testKit.createTestProbe();
      service.tell(new ServiceActor.Acquire(lease, lease.substring(0, lease.indexOf('-')), null, null, p.getRef()));
      waiting.add(p);
    }
    awaitStatus(service, s -> s.queue().length() == 4, "four waiting");
    assertEquals(Map.of("alice", 3, "bob", 1), status(service).queue().perUser());
    service.tell(new ServiceActor.Release("running", false));
    waiting.get(0).receiveMessage();                                          // alice-1 first: she came first
    service.tell(new ServiceActor.Release("alice-1", false));
    waiting.get(3).receiveMessage();                                          // then bob, before alice's second
    waiting.get(1).expectNoMessage(Duration.ofMillis(100));
  }

  @Test void anOrphanedJobOfThisDeploymentIsAdopted() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String orphan = cluster.orphan(id, "test.0123456789abcdef");
    cluster.ready.add(orphan);
    String foreign = cluster.orphan(id, "other-deployment.0123456789abcdef");   // not ours: left alone
    awaitStatus(service, s -> s.replicas().stream().anyMatch(r -> r.jobId().equals(orphan) && r.routable()), "adopted");
    assertTrue(status(service).replicas().stream().noneMatch(r -> r.jobId().equals(foreign)));
    assertFalse(cluster.cancelledJobs().contains(orphan));
    assertFalse(cluster.cancelledJobs().contains(foreign));
  }

  @Test void anOrphanedJobIsCancelledWhenConfiguredSo() {
    orphans = CoreSettings.Orphans.CANCEL;
    start(settings(0, 1, 4, 10, Duration.ofSeconds(10)));
    String orphan = cluster.orphan(id, "test.fedcba9876543210");
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(orphan), cluster.cancelledJobs());
      return null;
    });
  }

  @Test void operatorsScaleAndDrain() {
    var service = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    String job = readyJob(service, 1);
    TestProbe<AdminReply> admin = testKit.createTestProbe();
    service.tell(new ServiceActor.SetScale(3, 1, admin.getRef()));
    assertEquals("invalid_scale", assertInstanceOf(AdminReply.Refused.class, admin.receiveMessage()).reason().label());
    service.tell(new ServiceActor.SetScale(2, 3, admin.getRef()));
    var done = assertInstanceOf(AdminReply.Done.class, admin.receiveMessage());
    assertEquals(2, done.status().minReplicas());
    awaitSubmits(2);
    service.tell(new ServiceActor.DrainReplica("no-such-job", admin.getRef()));
    assertEquals("replica_not_found", assertInstanceOf(AdminReply.Refused.class, admin.receiveMessage()).reason().label());
    service.tell(new ServiceActor.DrainReplica(job, admin.getRef()));
    assertInstanceOf(AdminReply.Done.class, admin.receiveMessage());
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertEquals(List.of(job), cluster.cancelledJobs(), "an idle drained replica is cancelled at once");
      return null;
    });
    awaitSubmits(3);                                                         // and replaced: min is 2
    testKit.stop(service);
    var again = start(settings(1, 1, 4, 10, Duration.ofSeconds(10)));
    assertEquals(2, status(again).minReplicas(), "the operator's bounds survive a restart");
  }
}
