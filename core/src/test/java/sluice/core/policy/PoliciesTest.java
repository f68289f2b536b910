package sluice.core.policy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.core.policy.ReplicaPlanner.Plan;
import sluice.core.policy.ReplicaPlanner.Replica;
import sluice.core.policy.ReplicaPlanner.Stage;

class PoliciesTest {
  private static final Instant T0 = Instant.parse("2026-11-23T10:00:00Z");

  private static Instant at(double seconds) { return T0.plusMillis((long) (seconds * 1000)); }

  // ---------------------------------------------------------------- ReplicaChooser

  @Test void chooserPicksTheLeastLoadedRoutableReplicaBelowTheLimit() {
    var replicas = List.of(new ReplicaLoad("1", true, 3), new ReplicaLoad("2", true, 1), new ReplicaLoad("3", false, 0));
    assertEquals(Optional.of("2"), ReplicaChooser.pick(replicas, 4, null));
    assertEquals(Optional.of("a"), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 0), new ReplicaLoad("b", true, 0)), 2, null));
    assertEquals(Optional.empty(), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 2)), 2, null));
    assertEquals(Optional.empty(), ReplicaChooser.pick(List.of(), 2, null));
  }

  @Test void chooserAvoidsTheReplicaThatFailedTheRequest() {
    var replicas = List.of(new ReplicaLoad("a", true, 0), new ReplicaLoad("b", true, 3));
    assertEquals(Optional.of("b"), ReplicaChooser.pick(replicas, 4, "a"));
    assertEquals(Optional.empty(), ReplicaChooser.pick(List.of(new ReplicaLoad("a", true, 0)), 4, "a"));
  }

  // ---------------------------------------------------------------- Autoscaler

  private final Autoscaler scaler = new Autoscaler(1, 4, 8, Duration.ofSeconds(60), Duration.ofSeconds(300));

  @Test void scalesUpAtOnceWhenDemandNeedsMoreReplicas() {
    var s = Autoscaler.Scale.initial(1);
    assertEquals(1, scaler.next(s, 8, T0).target(), "8 requests fit one replica of 8");
    assertEquals(2, scaler.next(s, 9, T0).target(), "the ninth needs a second, decided at the same instant");
    assertEquals(4, scaler.next(s, 100, T0).target(), "never above max");
  }

  @Test void scalesDownOnlyAfterTheDelayAndToThePeakOfTheLowPeriod() {
    var s = new Autoscaler.Scale(4, null, 0, null);
    s = scaler.next(s, 9, at(0));                 // needs 2
    assertEquals(4, s.target());
    s = scaler.next(s, 20, at(30));               // needs 3, still below 4
    s = scaler.next(s, 1, at(59));
    assertEquals(4, s.target(), "not before the delay");
    s = scaler.next(s, 1, at(60));
    assertEquals(3, s.target(), "down to the most needed during the low period, not to today's need");
    s = scaler.next(s, 1, at(61));
    assertEquals(3, s.target(), "a new delay starts");
    s = scaler.next(s, 1, at(121));
    assertEquals(1, s.target());
  }

  @Test void aBurstDuringTheDelayKeepsTheReplicas() {
    var s = new Autoscaler.Scale(2, null, 0, null);
    s = scaler.next(s, 1, at(0));
    s = scaler.next(s, 16, at(30));               // needs 2 again: the low period ends
    s = scaler.next(s, 1, at(31));
    s = scaler.next(s, 1, at(70));
    assertEquals(2, s.target(), "the delay counts from the end of the burst");
    assertEquals(1, scaler.next(s, 1, at(91)).target());
  }

  @Test void scalesToZeroOnlyAfterIdleToZeroWhenMinIsZero() {
    var zero = new Autoscaler(0, 2, 4, Duration.ofSeconds(10), Duration.ofSeconds(300));
    var s = Autoscaler.Scale.initial(0);
    assertEquals(0, zero.next(s, 0, T0).target(), "no demand, nothing runs");
    s = zero.next(s, 1, T0);
    assertEquals(1, s.target(), "the first request starts a replica");
    s = zero.next(s, 0, at(1));
    s = zero.next(s, 0, at(200));
    assertEquals(1, s.target(), "one replica stays until idle-to-zero, whatever scale-down-delay says");
    s = zero.next(s, 0, at(301));
    assertEquals(0, s.target());
    assertEquals(1, scaler.next(Autoscaler.Scale.initial(1), 0, at(1000)).target(), "min 1 never goes to zero");
  }

  @Test void aLoweredMaxIsObeyedAtOnce() {
    var small = new Autoscaler(0, 1, 8, Duration.ofSeconds(60), Duration.ofSeconds(60));
    assertEquals(1, small.next(new Autoscaler.Scale(3, null, 0, null), 20, T0).target());
    assertThrows(IllegalArgumentException.class, () -> new Autoscaler(2, 1, 1, Duration.ZERO, Duration.ZERO));
  }

  // ---------------------------------------------------------------- ReplicaPlanner

  private static Replica ready(String id, int inFlight, Instant endsAt) { return new Replica(id, Stage.READY, inFlight, T0.minusSeconds(3600), endsAt); }

  private static Replica starting(String id, Instant startedAt) { return new Replica(id, Stage.STARTING, 0, startedAt, null); }

  private static final Duration RENEW = Duration.ofMinutes(10);

  @Test void submitsWhatIsMissingCountingStartingJobsAndIntents() {
    assertEquals(new Plan(2, List.of(), List.of()), ReplicaPlanner.plan(2, 0, List.of(), RENEW, T0));
    assertEquals(new Plan(0, List.of(), List.of()), ReplicaPlanner.plan(2, 1, List.of(starting("a", null)), RENEW, T0));
    assertEquals(new Plan(1, List.of(), List.of()),
        ReplicaPlanner.plan(2, 0, List.of(ready("a", 0, null), new Replica("b", Stage.LEAVING, 3, null, null)), RENEW, T0),
        "a leaving replica does not count");
  }

  @Test void scalingDownCancelsStartingJobsFirstThenDrainsTheLeastBusy() {
    var replicas = List.of(ready("busy", 5, at(7200)), ready("idle", 0, at(7200)), starting("loading", at(-60)));
    assertEquals(new Plan(0, List.of(), List.of("loading")), ReplicaPlanner.plan(2, 0, replicas, RENEW, T0));
    assertEquals(new Plan(0, List.of("idle"), List.of("loading")), ReplicaPlanner.plan(1, 0, replicas, RENEW, T0));
  }

  @Test void renewalSubmitsAReplacementAheadAndDrainsTheOldOneOnlyOnceTheNewOneIsReady() {
    Instant end = at(300);                                              // 5 minutes left, renew-before 10
    assertEquals(new Plan(1, List.of(), List.of()), ReplicaPlanner.plan(1, 0, List.of(ready("old", 2, end)), RENEW, T0),
        "replacement submitted, old keeps serving");
    assertEquals(new Plan(0, List.of(), List.of()),
        ReplicaPlanner.plan(1, 0, List.of(ready("old", 2, end), starting("new", T0)), RENEW, T0), "still loading: keep old");
    assertEquals(new Plan(0, List.of("old"), List.of()),
        ReplicaPlanner.plan(1, 0, List.of(ready("old", 2, end), ready("new", 0, at(7200))), RENEW, T0), "new is ready: drain old");
    assertEquals(new Plan(0, List.of(), List.of()), ReplicaPlanner.plan(1, 0, List.of(ready("fresh", 0, at(3600))), RENEW, T0));
  }

  @Test void aStartingJobWithoutTimeToServeIsCancelled() {
    var late = new Replica("late", Stage.STARTING, 0, at(-3500), at(100));
    assertEquals(new Plan(1, List.of(), List.of("late")), ReplicaPlanner.plan(1, 0, List.of(late), RENEW, T0));
  }

  @Test void theRenewalWindowIsAtMostHalfOfAJobsRun() {
    // A 10-minute job with renew-before 15 minutes renews after 5 minutes, not at once (which would loop).
    assertFalse(ReplicaPlanner.renewalDue(T0, at(600), Duration.ofMinutes(15), at(299)));
    assertTrue(ReplicaPlanner.renewalDue(T0, at(600), Duration.ofMinutes(15), at(300)));
    assertTrue(ReplicaPlanner.renewalDue(T0, at(7200), Duration.ofMinutes(15), at(7200 - 900)));
    assertFalse(ReplicaPlanner.renewalDue(T0, null, Duration.ofMinutes(15), at(1e6)), "no time limit, no renewal");
  }

  // ---------------------------------------------------------------- FairQueue

  @Test void queueServesUsersRoundRobinAndEachUserInOrder() {
    FairQueue<String> q = new FairQueue<>();
    q.add("a1", "alice", "a1");
    q.add("a2", "alice", "a2");
    q.add("a3", "alice", "a3");
    q.add("b1", "bob", "b1");
    q.add("c1", "carol", "c1");
    assertEquals(Map.of("alice", 3, "bob", 1, "carol", 1), q.perUser());
    StringBuilder order = new StringBuilder();
    while (!q.isEmpty()) order.append(q.poll().orElseThrow().getValue()).append(' ');
    assertEquals("a1 b1 c1 a2 a3 ", order.toString());
  }

  @Test void queueRemovesATimedOutRequest() {
    FairQueue<String> q = new FairQueue<>();
    q.add("a1", "alice", "a1");
    q.add("b1", "bob", "b1");
    assertEquals(Optional.of("a1"), q.remove("a1"));
    assertEquals(Optional.empty(), q.remove("a1"));
    assertEquals(1, q.size());
    assertEquals("b1", q.poll().orElseThrow().getKey());
    assertTrue(q.poll().isEmpty());
    assertThrows(IllegalArgumentException.class, () -> {
      q.add("x", "u", "x");
      q.add("x", "u", "x");
    });
  }

  // ---------------------------------------------------------------- RetryAfter and Backoff

  @Test void retryAfterFollowsTheReplicasOnTheirWay() {
    Duration startup = Duration.ofSeconds(90);
    assertEquals(60, RetryAfter.seconds(Duration.ofSeconds(30), true, Duration.ZERO, startup, 3, 0, Duration.ofSeconds(2)),
        "a job started 30 s ago: the rest of the 90 s start-up");
    assertEquals(1, RetryAfter.seconds(Duration.ofSeconds(200), true, Duration.ZERO, startup, 3, 0, Duration.ofSeconds(2)),
        "overdue: soon, never zero");
    assertEquals(100, RetryAfter.seconds(null, true, Duration.ofSeconds(10), startup, 3, 0, Duration.ofSeconds(2)),
        "nothing starting: backoff plus a whole start-up");
    assertEquals(6, RetryAfter.seconds(null, false, Duration.ZERO, startup, 40, 16, Duration.ofSeconds(2)),
        "all replicas busy: three rounds of 16 at 2 s per request");
    assertEquals(600, RetryAfter.seconds(null, true, Duration.ofHours(1), startup, 0, 0, Duration.ofSeconds(2)), "capped");
  }

  @Test void backoffDoublesUpToItsMaximum() {
    Backoff b = new Backoff(Duration.ofSeconds(2), Duration.ofSeconds(60));
    assertEquals(Duration.ZERO, b.after(0));
    assertEquals(Duration.ofSeconds(2), b.after(1));
    assertEquals(Duration.ofSeconds(8), b.after(3));
    assertEquals(Duration.ofSeconds(60), b.after(30));
  }
}
