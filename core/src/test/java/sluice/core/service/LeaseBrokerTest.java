package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.core.config.ServiceSettings;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;

/** Leases, the admission queue and its replies, without an actor: waiters are names, replies are recorded. */
class LeaseBrokerTest {
  private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");

  private record Sent(String to, LeaseReply reply) {}

  private final List<Sent> sent = new ArrayList<>();
  private final SluiceMetrics metrics = SluiceMetrics.standalone(false);

  private LeaseBroker<String> broker(int perReplica, int maxQueue) {
    var life = new ServiceSettings.Lifecycle(Duration.ofMinutes(1), Duration.ofMinutes(1), Duration.ofMinutes(10),
        Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofSeconds(5), 2);
    var settings = new ServiceSettings("llm", "c", "sluice", List.of("text"), List.of("text"), 1, 2, perReplica, maxQueue,
        Duration.ofSeconds(30), life);
    // A waiter named "nodeB/..." is a request of gateway node B; others are this node's.
    return new LeaseBroker<>(settings, (to, reply) -> sent.add(new Sent(to, reply)),
        to -> to.startsWith("nodeB/") ? "nodeB" : "", new ServiceMeters(metrics, "llm"));
  }

  private boolean acquire(LeaseBroker<String> b, String lease, String user, List<String> routable) {
    return b.acquire(lease, user, null, lease, routable, null, () -> 7, T0);
  }

  private String grantedJob(String waiter) {
    Sent last = sent.stream().filter(s -> s.to().equals(waiter)).reduce((a, b) -> b).orElseThrow();
    return assertInstanceOf(LeaseReply.Granted.class, last.reply()).jobId();
  }

  @Test void grantsTheLeastBusyReplicaAndTheOlderOneOnATie() {
    var b = broker(2, 10);
    assertFalse(acquire(b, "a", "u", List.of("1", "2")));
    assertEquals("1", grantedJob("a"));
    assertFalse(acquire(b, "b", "u", List.of("1", "2")));
    assertEquals("2", grantedJob("b"));
    assertEquals(new LeaseReply.Granted("llm", "c", "2", "b"), sent.get(1).reply());
    assertEquals(1, b.inFlight("1"));
    assertEquals(2, b.demand());
  }

  @Test void aRetryAvoidsTheReplicaThatFailedIt() {
    var b = broker(4, 10);
    assertFalse(b.acquire("retry", "u", "1", "retry", List.of("1", "2"), null, () -> 7, T0));
    assertEquals("2", grantedJob("retry"));
  }

  @Test void aRequestWaitsWhenNoReplicaHasRoomAndCountsAsDemand() {
    var b = broker(1, 10);
    acquire(b, "a", "u", List.of("1"));
    assertTrue(acquire(b, "b", "u", List.of("1")), "queued: the caller starts its wait timer");
    assertEquals(1, sent.size(), "no answer yet");
    assertEquals(1, b.queued());
    assertEquals(2, b.demand());
  }

  @Test void aFullQueueRefusesAtOnce() {
    var b = broker(1, 1);
    acquire(b, "a", "u", List.of());
    assertFalse(acquire(b, "b", "u", List.of()));
    var refused = assertInstanceOf(LeaseReply.Unavailable.class, sent.get(0).reply());
    assertEquals(new LeaseReply.Unavailable(LeaseRefusal.QUEUE_FULL, "the queue of llm is full (1 requests waiting)", 7), refused);
    assertEquals("b", sent.get(0).to());
  }

  @Test void aDegradedServiceRefusesWhenNoReplicaHasRoomButStillServesOneThatHas() {
    var b = broker(1, 10);
    var degraded = new LeaseBroker.Refusal(LeaseRefusal.DEGRADED, "3 failed starts", -1);
    assertFalse(b.acquire("a", "u", null, "a", List.of(), degraded, () -> 240, T0));
    assertEquals(new LeaseReply.Unavailable(LeaseRefusal.DEGRADED, "model llm is unavailable: 3 failed starts", 240), sent.get(0).reply());
    assertFalse(b.acquire("b", "u", null, "b", List.of("1"), degraded, () -> 240, T0));
    assertEquals("1", grantedJob("b"));
    assertEquals(0, b.queued());
  }

  @Test void waitersAreServedFairlyBetweenUsersWhileAReplicaHasRoom() {
    var b = broker(2, 10);
    for (String lease : List.of("alice-1", "alice-2", "alice-3", "bob-1")) acquire(b, lease, lease.split("-")[0], List.of());
    assertEquals(Map.of("alice", 3, "bob", 1), b.queuedPerUser());
    assertEquals(List.of("alice-1", "bob-1"), b.serveWaiters(List.of("1"), T0), "two fit; alice came first, then bob's turn");
    assertEquals(List.of(), b.serveWaiters(List.of("1"), T0), "the replica is full");
    assertEquals(Map.of("alice", 2), b.queuedPerUser());
    assertEquals("1", grantedJob("bob-1"));
  }

  @Test void aWaitThatExpiresIsRefusedUnlessItWasServed() {
    var b = broker(1, 10);
    acquire(b, "a", "u", List.of());
    acquire(b, "b", "u", List.of());
    b.serveWaiters(List.of("1"), T0);                                       // a is served
    b.expire("a", () -> 3);
    b.expire("b", () -> 3);
    assertEquals(2, sent.size());
    assertEquals(new LeaseReply.Unavailable(LeaseRefusal.QUEUE_TIMEOUT, "no replica of llm could take the request within 30 s", 3),
        sent.get(1).reply());
    assertEquals(0, b.queued());
    assertEquals(1, b.demand());
  }

  @Test void aReleaseFreesTheReplicaAndMovesTheMeasuredRequestTime() {
    var b = broker(2, 10);
    acquire(b, "a", "u", List.of("1"));
    acquire(b, "b", "u", List.of("1"));
    assertEquals(Optional.of(new LeaseBroker.Released("1", false)), b.release("a", T0.plusSeconds(11)));
    assertEquals(Duration.ofMillis(4000), b.requestTime(), "0.7 * 1 s + 0.3 * 11 s");
    assertEquals(Optional.of(new LeaseBroker.Released("1", true)), b.release("b", T0.plusSeconds(1)));
    assertEquals(Optional.empty(), b.release("b", T0.plusSeconds(2)), "released once");
    assertEquals(0, b.inFlight("1"));
    assertEquals(0, b.demand());
  }

  @Test void aForgottenReplicaHasNothingInFlightButItsLeasesStillCountAsDemand() {
    var b = broker(2, 10);
    acquire(b, "a", "u", List.of("1"));
    b.forget("1");
    assertEquals(0, b.inFlight("1"));
    assertEquals(1, b.demand());
    assertEquals(Optional.of(new LeaseBroker.Released("1", true)), b.release("a", T0));
  }

  @Test void aRepeatedAcquireIsAnsweredAgainWithItsLeaseAndNeverCountedTwice() {
    var b = broker(1, 10);
    assertFalse(b.acquire("a", "u", null, "first-ask", List.of("1"), null, () -> 7, T0));
    assertFalse(b.acquire("a", "u", null, "second-ask", List.of("1"), null, () -> 7, T0));   // the first answer was lost
    assertEquals("1", grantedJob("second-ask"));
    assertEquals(1, b.inFlight("1"));
    assertEquals(1, b.demand());
    assertTrue(b.release("a", T0).isPresent());
    assertEquals(0, b.demand());
  }

  @Test void aRepeatedAcquireOfAQueuedRequestKeepsItsPlaceAndIsAnsweredAtTheNewAddress() {
    var b = broker(1, 10);
    acquire(b, "holder", "u", List.of("1"));
    assertTrue(b.acquire("w1", "v", null, "w1-first", List.of("1"), null, () -> 7, T0));
    assertTrue(b.acquire("w2", "x", null, "w2", List.of("1"), null, () -> 7, T0));
    assertFalse(b.acquire("w1", "v", null, "w1-again", List.of("1"), null, () -> 7, T0), "not queued twice");
    assertEquals(3, b.demand());
    b.release("holder", T0);
    assertEquals(List.of("w1"), b.serveWaiters(List.of("1"), T0));
    assertEquals("1", grantedJob("w1-again"));
    assertTrue(sent.stream().noneMatch(x -> x.to().equals("w1-first")));
  }

  @Test void theLeasesAndQueuedRequestsOfANodeThatLeftAreReleasedAndDropped() {
    var b = broker(2, 10);
    acquire(b, "nodeB/1", "u", List.of("1"));
    acquire(b, "here", "u", List.of("1"));
    assertTrue(acquire(b, "nodeB/2", "u", List.of("1")));              // full: queued
    assertTrue(acquire(b, "here-waiting", "u", List.of("1")));
    assertEquals(4, b.demand());

    LeaseBroker.Departed gone = b.nodeLeft("nodeB", T0.plusSeconds(3));
    assertEquals(List.of(new LeaseBroker.Released("1", false)), gone.released());
    assertEquals(List.of("nodeB/2"), gone.dropped());
    assertEquals(1, b.inFlight("1"), "only this node's lease still counts");
    assertEquals(List.of("here-waiting"), b.serveWaiters(List.of("1"), T0), "the freed slot goes to a live request");
    assertEquals(2, b.demand());
    assertTrue(b.nodeLeft("nodeB", T0).released().isEmpty(), "a second notice changes nothing");
  }

  @Test void theQueueLengthAndTheWaitOfEachGrantedRequestAreMetered() {
    var b = broker(1, 10);
    acquire(b, "running", "u", List.of("1"));                              // granted at once: a wait of 0
    for (String lease : List.of("w1", "w2", "w3")) {
      assertTrue(b.acquire(lease, "u", null, lease, List.of("1"), null, () -> 7, T0.plusSeconds(1)));
    }
    assertEquals(3.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
    assertEquals(1, MetricValues.count(metrics.registry, "sluice_queue_wait_seconds", "model", "llm"));
    b.release("running", T0.plusSeconds(3));
    assertEquals(List.of("w1"), b.serveWaiters(List.of("1"), T0.plusSeconds(3)));            // waited 2 s
    assertEquals(2.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
    b.expire("w2", () -> 3);                                                  // refused: no wait observed
    assertEquals(1.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
    b.release("w1", T0.plusSeconds(5));
    assertEquals(List.of("w3"), b.serveWaiters(List.of("1"), T0.plusMillis(5500)));           // waited 4.5 s
    assertEquals(0.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
    assertEquals(3, MetricValues.count(metrics.registry, "sluice_queue_wait_seconds", "model", "llm"));
    assertEquals(6.5, MetricValues.sum(metrics.registry, "sluice_queue_wait_seconds", "model", "llm"), 1e-9);
  }

  @Test void requestsDroppedWithTheirNodeLeaveTheQueueLength() {
    var b = broker(1, 10);
    acquire(b, "holder", "u", List.of("1"));
    acquire(b, "nodeB/1", "u", List.of("1"));
    acquire(b, "nodeB/2", "u", List.of("1"));
    assertEquals(2.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
    b.nodeLeft("nodeB", T0);
    assertEquals(0.0, MetricValues.value(metrics.registry, "sluice_queued_requests", "model", "llm"));
  }

  @Test void aNodeMayAskToWaitLessThanTheServiceQueueWaitButNotMore() {
    var b = broker(1, 10);
    assertEquals(Duration.ofSeconds(30), b.queueWait(null));
    assertEquals(Duration.ofSeconds(4), b.queueWait(Duration.ofSeconds(4)));
    assertEquals(Duration.ofSeconds(30), b.queueWait(Duration.ofMinutes(5)));
  }
}
