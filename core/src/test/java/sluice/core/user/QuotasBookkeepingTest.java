package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.core.user.QuotasTest.ALICE;
import static sluice.core.user.QuotasTest.START;
import static sluice.core.user.QuotasTest.TIMEOUT;
import static sluice.core.user.QuotasTest.admitted;
import static sluice.core.user.QuotasTest.concurrent;
import static sluice.core.user.QuotasTest.refused;
import static sluice.core.user.QuotasTest.requests;
import static sluice.core.user.QuotasTest.tokens;
import static sluice.core.user.QuotasTest.user;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.core.user.Quotas.Applying;
import sluice.core.user.Quotas.Decision;
import sluice.core.user.RateInfo.WindowState;
import sluice.core.user.UserActor.ScopeCount;
import sluice.core.user.UserActor.WindowCount;

/** The quota engine after admission: settling, sweeping lost reservations, checkpoints and restoring from them. */
class QuotasBookkeepingTest {
  private final Quotas quotas = new Quotas(TIMEOUT);

  private Decision admit(String id, List<Applying> scopes, long reserve, Instant now) {
    return quotas.admit(id, scopes, reserve, now);
  }

  private long requestsIn(Window w, Instant now) { return quotas.usage(now).requests().get(w.label()); }

  private long tokensIn(Window w, Instant now) { return quotas.usage(now).tokens().get(w.label()); }

  // ---------------------------------------------------------------- settle

  @Test void settlingReplacesTheReservationWithTheRealUsage() {
    var scopes = user(tokens(Window.MINUTE, 1000));
    admitted(admit("r1", scopes, 600, START));
    assertTrue(quotas.settle("r1", 100, START));
    for (Window w : Window.values()) assertEquals(100, tokensIn(w, START), w.label());
    assertEquals(1, requestsIn(Window.MINUTE, START), "the request still counts");
    assertEquals(0, quotas.usage(START).inFlight());
    Decision d = admit("r2", scopes, 500, START);
    assertEquals(400, d.rate().tokens().get(0).remaining(), "1000 - 100 used - 500 reserved");
  }

  @Test void aSettleAboveTheReservationCountsTheRealUsage() {
    admitted(admit("r1", user(Limits.NONE), 10, START));
    quotas.settle("r1", 250, START);
    assertEquals(250, tokensIn(Window.DAY, START));
  }

  @Test void aSettleOfAnUnknownIdChangesNothing() {
    admitted(admit("r1", user(Limits.NONE), 10, START));
    quotas.checkpoint(START);
    assertFalse(quotas.settle("unknown", 999, START));
    assertEquals(10, tokensIn(Window.MINUTE, START));
    assertFalse(quotas.changed());
  }

  @Test void aSettleAfterTheWindowRolledOverCountsOnlyTheRealUsageInTheNewWindow() {
    admitted(admit("r1", user(Limits.NONE), 600, START));
    Instant next = Window.MINUTE.end(START);
    assertTrue(quotas.settle("r1", 100, next));
    assertEquals(100, tokensIn(Window.MINUTE, next), "the new minute: only the real usage");
    assertEquals(0, requestsIn(Window.MINUTE, next), "the request was counted in the old minute");
    assertEquals(100, tokensIn(Window.HOUR, next), "the hour held the reservation: replaced by the real usage");
    assertEquals(100, tokensIn(Window.MONTH, next));
  }

  @Test void aSettleAfterEveryWindowRolledOverCountsTheUsageOnceInEach() {
    admitted(admit("r1", user(Limits.NONE), 600, START));
    Instant nextMonth = Window.MONTH.end(START);
    quotas.settle("r1", 100, nextMonth);
    for (Window w : Window.values()) assertEquals(100, tokensIn(w, nextMonth), w.label());
  }

  @Test void settlingTouchesEveryScopeOfTheRequest() {
    var scopes = List.of(Applying.user(ALICE, Limits.NONE), Applying.model(ALICE, "m", tokens(Window.MINUTE, 1000)),
        Applying.key("key_1", concurrent(1)));
    admitted(admit("r1", scopes, 900, START));
    quotas.settle("r1", 100, START);
    Decision d = admit("r2", scopes, 900, START);
    admitted(d);
    assertEquals(0, d.rate().tokens().get(0).remaining(), "the model scope: 100 used + 900 reserved");
    assertEquals(1, d.rate().inFlight(), "the key's slot was freed and taken again");
  }

  // ---------------------------------------------------------------- sweep

  @Test void aReservationIsSweptOnceItIsAsOldAsTheTimeout() {
    admitted(admit("lost", user(concurrent(1)), 100, START));
    assertEquals(0, quotas.sweep(START.plus(TIMEOUT).minusMillis(1)));
    assertTrue(quotas.hasReservations());
    assertEquals(1, quotas.sweep(START.plus(TIMEOUT)));
    assertFalse(quotas.hasReservations());
  }

  @Test void theRequestsOfAGatewayNodeThatLeftFreeTheirSlotsAtOnceAndOnlyTheirs() {
    var scopes = user(concurrent(2));
    admitted(quotas.admit("on-b", scopes, 100, START, "pekko://sluice@10.0.0.2:25520"));
    admitted(quotas.admit("here", scopes, 100, START, ""));
    assertEquals(AdmissionRefusal.CONCURRENCY_LIMIT, refused(admit("third", scopes, 1, START)).reason());
    assertEquals(0, quotas.nodeLeft("pekko://sluice@10.0.0.3:25520"), "another node's departure frees nothing");
    assertEquals(1, quotas.nodeLeft("pekko://sluice@10.0.0.2:25520"));
    assertEquals(1, quotas.usage(START).inFlight());
    admitted(admit("third", scopes, 1, START));
    assertEquals(0, quotas.nodeLeft(""), "this node never departs from itself");
    assertEquals(201, tokensIn(Window.HOUR, START), "the departed request's reserved tokens stay counted");
  }

  @Test void aSweptReservationFreesItsSlotButItsTokensStayCounted() {
    var scopes = user(concurrent(1));
    admitted(admit("lost", scopes, 100, START));
    Instant later = START.plus(TIMEOUT);
    quotas.sweep(later);
    assertEquals(0, quotas.usage(later).inFlight());
    admitted(admit("next", scopes, 100, later));
    assertEquals(200, tokensIn(Window.HOUR, later));
    assertFalse(quotas.settle("lost", 1, later), "a late settle finds nothing to replace");
    assertEquals(200, tokensIn(Window.HOUR, later));
  }

  @Test void aSweepDropsOnlyTheOldReservations() {
    admitted(admit("old", user(Limits.NONE), 1, START));
    admitted(admit("young", user(Limits.NONE), 1, START.plus(Duration.ofMinutes(10))));
    assertEquals(1, quotas.sweep(START.plus(TIMEOUT)));
    assertEquals(1, quotas.usage(START.plus(TIMEOUT)).inFlight());
    assertTrue(quotas.settle("young", 1, START.plus(TIMEOUT)));
  }

  @Test void aSweepThatDropsNothingChangesNothing() {
    admitted(admit("a", user(Limits.NONE), 1, START));
    quotas.checkpoint(START);
    assertEquals(0, quotas.sweep(START.plusSeconds(1)));
    assertFalse(quotas.changed());
    assertEquals(1, quotas.sweep(START.plus(TIMEOUT)));
    assertTrue(quotas.changed(), "the freed slots are a change to save");
  }

  @Test void aSweepLongAfterForgetsNothingThatStillCounts() {
    admitted(admit("a", user(Limits.NONE), 5, START));
    quotas.settle("a", 5, START);
    Instant nextHour = Window.HOUR.end(START);
    quotas.sweep(nextHour);
    assertEquals(5, tokensIn(Window.DAY, nextHour));
    assertEquals(1, requestsIn(Window.MONTH, nextHour));
  }

  // ---------------------------------------------------------------- checkpoint and restore

  @Test void nothingToSaveUntilSomethingIsCounted() {
    assertFalse(quotas.changed());
    assertEquals(List.of(), quotas.checkpoint(START));
    admitted(admit("a", user(Limits.NONE), 1, START));
    assertTrue(quotas.changed());
    quotas.checkpoint(START);
    assertFalse(quotas.changed(), "saved");
    quotas.settle("a", 2, START);
    assertTrue(quotas.changed());
  }

  @Test void aRefusalIsNoChange() {
    refused(admit("a", user(requests(Window.MINUTE, 0)), 1, START));
    assertFalse(quotas.changed());
  }

  @Test void theCheckpointHoldsTheCurrentWindowsOfEveryScopeSortedById() {
    var scopes = List.of(Applying.user(ALICE, Limits.NONE), Applying.model(ALICE, "m", Limits.NONE), Applying.key("k", Limits.NONE));
    admitted(admit("a", scopes, 10, START));
    List<ScopeCount> saved = quotas.checkpoint(START);
    assertEquals(List.of("key:k", "model:m", "user"), saved.stream().map(ScopeCount::scope).toList());
    assertEquals(List.of(new WindowCount(Window.MINUTE, Window.MINUTE.start(START), 1, 10),
        new WindowCount(Window.HOUR, Window.HOUR.start(START), 1, 10),
        new WindowCount(Window.DAY, Window.DAY.start(START), 1, 10),
        new WindowCount(Window.MONTH, Window.MONTH.start(START), 1, 10)), saved.get(2).windows());
  }

  @Test void theCheckpointLeavesOutEndedWindows() {
    admitted(admit("a", user(Limits.NONE), 10, START));
    List<ScopeCount> saved = quotas.checkpoint(Window.HOUR.end(START));
    assertEquals(List.of(Window.DAY, Window.MONTH), saved.get(0).windows().stream().map(WindowCount::window).toList());
    assertEquals(List.of(), quotas.checkpoint(Window.MONTH.end(START)), "a scope with nothing current is left out");
  }

  @Test void aWindowWithRequestsButNoTokensIsSaved() {
    admitted(admit("a", user(Limits.NONE), 10, START));
    quotas.settle("a", 0, START);
    assertEquals(1, quotas.checkpoint(START).get(0).windows().get(0).requests(), "the request still counts: kept");
  }

  @Test void checkpointThenRestoreGivesTheSameCountsAndNoReservations() {
    var scopes = List.of(Applying.user(ALICE, tokens(Window.DAY, 1000)), Applying.key("k", requests(Window.MINUTE, 3)));
    admitted(admit("a", scopes, 10, START));
    admitted(admit("b", scopes, 20, START));
    quotas.settle("a", 5, START);
    List<ScopeCount> saved = quotas.checkpoint(START);

    Quotas restored = new Quotas(TIMEOUT);
    restored.restore(saved, START);
    assertEquals(saved, restored.checkpoint(START));
    var usage = restored.usage(START);
    assertEquals(2, usage.requests().get("minute"));
    assertEquals(25, usage.tokens().get("day"));
    assertEquals(0, usage.inFlight(), "reservations are not saved");
    assertFalse(restored.hasReservations());
    assertFalse(restored.changed());
    assertEquals(List.of(new WindowState(Window.MINUTE, 3, 1, Window.MINUTE.end(START))),
        restored.rate(scopes, START).requests(), "the key's counters are back");
    assertFalse(restored.settle("b", 1, START));
  }

  @Test void aRestoreLaterKeepsOnlyTheWindowsStillCurrent() {
    admitted(admit("a", user(Limits.NONE), 10, START));
    List<ScopeCount> saved = quotas.checkpoint(START);
    Quotas restored = new Quotas(TIMEOUT);
    Instant nextMinute = Window.MINUTE.end(START);
    restored.restore(saved, nextMinute);
    assertEquals(0, restored.usage(nextMinute).requests().get("minute"));
    assertEquals(1, restored.usage(nextMinute).requests().get("hour"));
    assertEquals(List.of(Window.HOUR, Window.DAY, Window.MONTH),
        restored.checkpoint(nextMinute).get(0).windows().stream().map(WindowCount::window).toList());
  }

  @Test void aRestoreReplacesEverythingInMemory() {
    admitted(admit("a", user(Limits.NONE), 10, START));
    quotas.restore(List.of(), START);
    assertEquals(0, requestsIn(Window.MINUTE, START));
    assertFalse(quotas.hasReservations());
    assertFalse(quotas.changed());
  }
}
