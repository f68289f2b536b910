package sluice.core.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.core.testing.TestClock;

/** The singleton behind "one squeue per poll interval, whatever the number of nodes and services". */
class SharedListingTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  private static final Duration REUSE = Duration.ofMillis(1800);

  @AfterAll static void stop() { testKit.shutdownTestKit(); }

  private final TestClock clock = TestClock.frozen(TestClock.START);
  private final AtomicInteger listings = new AtomicInteger();
  private volatile CompletableFuture<List<JobSnapshot>> next = CompletableFuture.completedFuture(List.of());

  /** A cluster whose listing is {@link #next}; every call counted, as slurmctld would count squeue. */
  private final ClusterGateway cluster = new ClusterGateway() {
    @Override public CompletionStage<List<JobSnapshot>> jobs() {
      listings.incrementAndGet();
      return next;
    }
    @Override public CompletionStage<JobSnapshot> submit(String service, String tag) { throw new UnsupportedOperationException(); }
    @Override public CompletionStage<Boolean> cancel(String jobId) { throw new UnsupportedOperationException(); }
    @Override public CompletionStage<ProbeOutcome> probe(String service, String jobId) { throw new UnsupportedOperationException(); }
    @Override public CompletionStage<List<String>> logTail(String s, String j, int n) { throw new UnsupportedOperationException(); }
    @Override public CompletionStage<UpstreamResponse> forward(UpstreamRequest request) { throw new UnsupportedOperationException(); }
  };

  private SharedListing.Listing poll(ActorRef<SharedListing.Command> lister) {
    TestProbe<SharedListing.Listing> probe = testKit.createTestProbe();
    lister.tell(new SharedListing.GetJobs(probe.getRef(), null));
    return probe.receiveMessage();
  }

  @Test void pollsWithinTheReusePeriodShareOneListingAndALaterPollListsAgain() {
    var lister = testKit.spawn(SharedListing.lister(cluster, REUSE, clock));
    for (int i = 0; i < 5; i++) poll(lister);                  // five services polling in one interval
    assertEquals(1, listings.get());
    clock.advance(REUSE);
    poll(lister);
    assertEquals(2, listings.get());
  }

  @Test void pollsArrivingWhileAListingIsInFlightWaitForIt() {
    next = new CompletableFuture<>();
    var lister = testKit.spawn(SharedListing.lister(cluster, REUSE, clock));
    TestProbe<SharedListing.Listing> a = testKit.createTestProbe();
    TestProbe<SharedListing.Listing> b = testKit.createTestProbe();
    lister.tell(new SharedListing.GetJobs(a.getRef(), null));
    lister.tell(new SharedListing.GetJobs(b.getRef(), null));
    a.expectNoMessage(Duration.ofMillis(100));
    next.complete(List.of());
    a.receiveMessage();
    b.receiveMessage();
    assertEquals(1, listings.get());
  }

  @Test void aPollWithAShorterMaxAgeListsAfreshOnceTheListingIsOlder() {
    var lister = testKit.spawn(SharedListing.lister(cluster, REUSE, clock));
    poll(lister);
    clock.advance(Duration.ofMillis(100));
    TestProbe<SharedListing.Listing> probe = testKit.createTestProbe();
    lister.tell(new SharedListing.GetJobs(probe.getRef(), Duration.ofMillis(200)));   // young enough: reused
    probe.receiveMessage();
    assertEquals(1, listings.get());
    clock.advance(Duration.ofMillis(150));
    lister.tell(new SharedListing.GetJobs(probe.getRef(), Duration.ofMillis(200)));   // 250 ms old: listed again
    probe.receiveMessage();
    assertEquals(2, listings.get());
    lister.tell(new SharedListing.GetJobs(probe.getRef(), Duration.ofHours(1)));      // never longer than the reuse period
    probe.receiveMessage();
    clock.advance(REUSE);
    lister.tell(new SharedListing.GetJobs(probe.getRef(), Duration.ofHours(1)));
    probe.receiveMessage();
    assertEquals(3, listings.get());
  }

  @Test void aSubmitOrCancelMakesTheNextPollListAfresh() {
    var lister = testKit.spawn(SharedListing.lister(cluster, REUSE, clock));
    poll(lister);
    lister.tell(SharedListing.Forget.INSTANCE);
    poll(lister);
    assertEquals(2, listings.get());
  }

  @Test void aFailedListingIsPassedOnAndNotReused() {
    next = CompletableFuture.failedFuture(new ClusterException(ClusterFailure.CONNECTION_LOST, "ssh connection lost"));
    var lister = testKit.spawn(SharedListing.lister(cluster, REUSE, clock));
    SharedListing.Listing failed = poll(lister);
    assertEquals(ClusterFailure.CONNECTION_LOST, failed.failure());
    assertEquals("ssh connection lost", failed.message());
    next = CompletableFuture.completedFuture(List.of());
    assertNull(poll(lister).failure());
    assertEquals(2, listings.get());
  }
}
