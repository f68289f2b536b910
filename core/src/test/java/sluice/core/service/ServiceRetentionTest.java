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
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.apache.pekko.persistence.testkit.javadsl.SnapshotTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.agent.testing.Await;
import sluice.core.cluster.SlurmState;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;

/**
 * A service's journal stays bounded: a snapshot every 100 events, and at each one the events more than 200 events old
 * are deleted (the service's events are not tagged, so nothing else reads them). Snapshots are serialized by the
 * testkit, so the state's round trip through Jackson CBOR is part of the recovery checked here.
 */
@ExtendWith(LogCapturingExtension.class)
class ServiceRetentionTest extends ServiceActorFixture {
  static final ActorTestKit testKit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config()).withFallback(ConfigFactory.load()));
  private static final int EVENTS = 326;
  private static final Duration WAIT = Duration.ofSeconds(10);

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  ServiceRetentionTest() { super(testKit); }

  @Test void aServiceWithManyEventsRecoversItsReplicasAfterOldEventsWereDeleted() throws Exception {
    ServiceSettings s = settings(1, 1, 4, 10, Duration.ofSeconds(10));
    var service = start(s);
    String first = readyJob(service, 1);
    cluster.end(first, SlurmState.FAILED);                     // forgotten and replaced: events the deletion will take
    String job = readyJob(service, 2);

    PersistenceTestKit journal = PersistenceTestKit.create(testKit.system());
    String pid = ServiceActor.persistenceId(id).id();
    int before = journal.persistedInStorage(pid).size();
    TestProbe<AdminReply> admin = testKit.createTestProbe();
    for (int i = before; i < EVENTS; i++) {                    // an operator's scale changes, one event each
      service.tell(new ServiceActor.SetScale(1, 1, admin.getRef()));
      assertInstanceOf(AdminReply.Done.class, admin.receiveMessage(WAIT));
    }

    SnapshotTestKit snapshots = SnapshotTestKit.create(testKit.system());
    Await.until(WAIT, "the snapshot at 300 and the two before it (Pekko keeps 2 + the latest)",
        () -> snapshots.persistedInStorage(pid).stream().map(p -> p.first().sequenceNr()).toList(), List.of(100L, 200L, 300L)::equals);
    Await.until(WAIT, "events 1 to 100 deleted", () -> journal.persistedInStorage(pid).size(), n -> n == EVENTS - 100);
    assertTrue(journal.persistedInStorage(pid).stream().noneMatch(e -> e instanceof ServiceActor.Created
        || e instanceof ServiceActor.JobTracked || e instanceof ServiceActor.JobForgotten), "the replicas' events are gone");
    testKit.stop(service);

    var again = start(s);
    TestProbe<LeaseReply> p = testKit.createTestProbe();
    var granted = assertInstanceOf(LeaseReply.Granted.class, acquire(again, p, "after-restart"));
    assertEquals(job, granted.jobId(), "the replica recovered from the snapshot serves");
    ServiceStatus st = status(again);
    assertEquals(List.of(job), st.replicas().stream().map(ServiceStatus.Replica::jobId).toList(), "the ended job stays forgotten");
    assertEquals(ReplicaPhase.READY, st.replicas().get(0).phase());
    assertEquals(1, st.minReplicas());
    assertEquals(2, cluster.submits.get(), "re-adopted: no new submission");
  }
}
