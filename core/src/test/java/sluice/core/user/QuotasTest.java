package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.EnumSource;
import sluice.core.ids.UserId;
import sluice.core.user.Quotas.Applying;
import sluice.core.user.Quotas.Decision;
import sluice.core.user.Quotas.Refusal;
import sluice.core.user.RateInfo.WindowState;

/**
 * The quota engine's admission decisions, alone: time is passed in, so windows roll over without waiting. Settling,
 * sweeping and checkpoints: {@link QuotasBookkeepingTest}.
 */
class QuotasTest {
  /** 29.5 s before the minute ends; the hour, day and month end later (see WindowTest). */
  static final Instant START = Instant.parse("2024-05-14T10:20:30.500Z");
  static final Duration TIMEOUT = Duration.ofMinutes(15);
  static final UserId ALICE = UserId.of("alice");

  private final Quotas quotas = new Quotas(TIMEOUT);

  static Limits requests(Window w, long n) { return new Limits(Map.of(w, n), Map.of(), null); }

  static Limits tokens(Window w, long n) { return new Limits(Map.of(), Map.of(w, n), null); }

  static Limits concurrent(int n) { return new Limits(Map.of(), Map.of(), n); }

  /** The user scope alone, with these limits. */
  static List<Applying> user(Limits l) { return List.of(Applying.user(ALICE, l)); }

  private Decision admit(String id, List<Applying> scopes, long reserve, Instant now) {
    return quotas.admit(id, scopes, reserve, now);
  }

  static Refusal refused(Decision d) {
    assertFalse(d.admitted(), "expected a refusal");
    return d.refusal();
  }

  static void admitted(Decision d) {
    assertTrue(d.admitted(), () -> "refused: " + d.refusal());
  }

  private long requests(Window w, Instant now) { return quotas.usage(now).requests().get(w.label()); }

  private long tokens(Window w, Instant now) { return quotas.usage(now).tokens().get(w.label()); }

  // ---------------------------------------------------------------- windows

  @ParameterizedTest(name = "{0}")
  @EnumSource(Window.class)
  void theRequestAboveAWindowsLimitIsRefusedUntilTheWindowRollsOver(Window w) {
    var scopes = user(requests(w, 2));
    admitted(admit("a", scopes, 1, START));
    admitted(admit("b", scopes, 1, START));
    assertEquals(AdmissionRefusal.REQUEST_RATE_LIMIT, refused(admit("c", scopes, 1, START)).reason());
    assertEquals(AdmissionRefusal.REQUEST_RATE_LIMIT, refused(admit("c", scopes, 1, w.end(START).minusMillis(1))).reason());
    admitted(admit("c", scopes, 1, w.end(START)));
  }

  @ParameterizedTest(name = "{0}")
  @EnumSource(Window.class)
  void aNewWindowStartsFromZeroWhileTheLongerOnesKeepCounting(Window w) {
    admitted(admit("a", user(Limits.NONE), 7, START));
    Instant later = w.end(START);
    assertEquals(0, requests(w, later));
    assertEquals(0, tokens(w, later));
    for (Window longer : Window.values()) {
      if (!longer.end(START).isAfter(later)) continue;
      assertEquals(1, requests(longer, later), longer.label());
      assertEquals(7, tokens(longer, later), longer.label());
    }
  }

  @Test void everyAdmissionIsCountedInEveryWindowEvenWithoutLimits() {
    for (int i = 0; i < 3; i++) admitted(admit("r" + i, user(Limits.NONE), 10, START));
    for (Window w : Window.values()) {
      assertEquals(3, requests(w, START), w.label());
      assertEquals(30, tokens(w, START), w.label());
    }
    assertEquals(3, quotas.usage(START).inFlight());
  }

  @Test void aRefusedRequestIsNotCounted() {
    var scopes = user(requests(Window.MINUTE, 1));
    admitted(admit("a", scopes, 10, START));
    refused(admit("b", scopes, 10, START));
    assertEquals(1, requests(Window.HOUR, START));
    assertEquals(10, tokens(Window.HOUR, START));
    assertEquals(1, quotas.usage(START).inFlight());
    assertFalse(quotas.settle("b", 1, START), "a refused request holds no reservation");
  }

  @ParameterizedTest(name = "{0} ms left: {1} s")
  @CsvSource({"29500, 30", "1000, 1", "1001, 2", "1, 1", "0, 1", "-5000, 1", "3600000, 3600"})
  void retryAfterIsInWholeSecondsRoundedUpAndAtLeastOne(long millisLeft, long seconds) {
    assertEquals(seconds, Quotas.secondsUntil(START, START.plusMillis(millisLeft)));
  }

  // ---------------------------------------------------------------- refusal messages

  @ParameterizedTest(name = "{0}")
  @CsvSource({"minute, 30", "hour, 2370", "day, 49170", "month, 1517970"})
  void aRequestLimitNamesItsWindowScopeAndWait(String label, long retry) {
    var scopes = user(requests(Window.fromLabel(label), 1));
    admitted(admit("a", scopes, 1, START));
    Refusal r = refused(admit("b", scopes, 1, START));
    assertEquals(new Refusal(AdmissionRefusal.REQUEST_RATE_LIMIT,
        "Rate limit reached: 1 requests per " + label + " for user alice; retry in " + retry + " s", retry), r);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "minute | TOKEN_RATE_LIMIT | Rate limit reached: 1000 tokens per minute for user alice (600 used, 600 requested); retry in 30 s",
      "hour   | TOKEN_RATE_LIMIT | Rate limit reached: 1000 tokens per hour for user alice (600 used, 600 requested); retry in 2370 s",
      "day    | TOKEN_BUDGET     | Token budget exhausted: 1000 tokens per day for user alice (600 used, 600 requested); it resets in 49170 s",
      "month  | TOKEN_BUDGET     | Token budget exhausted: 1000 tokens per month for user alice (600 used, 600 requested); it resets in 1517970 s"})
  void minuteAndHourTokensAreRateLimitsDayAndMonthAreBudgets(String label, AdmissionRefusal reason, String message) {
    var scopes = user(tokens(Window.fromLabel(label), 1000));
    admitted(admit("a", scopes, 600, START));
    Refusal r = refused(admit("b", scopes, 600, START));
    assertEquals(reason, r.reason());
    assertEquals(message, r.message());
  }

  @Test void aConcurrencyLimitAsksToRetryInOneSecond() {
    var scopes = user(concurrent(1));
    admitted(admit("a", scopes, 1, START));
    assertEquals(new Refusal(AdmissionRefusal.CONCURRENCY_LIMIT,
        "Concurrency limit reached: 1 requests in flight for user alice; retry in 1 s", 1), refused(admit("b", scopes, 1, START)));
  }

  @Test void eachScopeIsNamedInItsRefusal() {
    var model = List.of(Applying.user(ALICE, Limits.NONE), Applying.model(ALICE, "big", requests(Window.MINUTE, 0)));
    assertTrue(refused(admit("a", model, 1, START)).message().contains(" for user alice on model big;"));
    var key = List.of(Applying.user(ALICE, Limits.NONE), Applying.key("key_1", requests(Window.MINUTE, 0)));
    assertTrue(refused(admit("b", key, 1, START)).message().contains(" for key key_1;"));
  }

  // ---------------------------------------------------------------- tokens

  @Test void anEmptyWindowAdmitsOneRequestWhateverItsReservation() {
    var scopes = user(tokens(Window.MINUTE, 1000));
    Decision d = admit("big", scopes, 5000, START);
    admitted(d);
    assertEquals(List.of(new WindowState(Window.MINUTE, 1000, 0, Window.MINUTE.end(START))), d.rate().tokens(), "never negative");
    Refusal r = refused(admit("small", scopes, 1, START));
    assertTrue(r.message().contains("(5000 used, 1 requested)"), r.message());
  }

  @ParameterizedTest(name = "{0} used + {1} reserved, limit 1000: admitted {2}")
  @CsvSource({"600, 400, true", "600, 401, false", "999, 1, true", "1000, 0, false", "0, 0, true", "0, 1000000, true"})
  void tokensMustFitWhatIsLeftOnceTheWindowHasUsage(long used, long reserve, boolean admitted) {
    var scopes = user(tokens(Window.HOUR, 1000));
    if (used > 0) admitted(admit("first", scopes, used, START));
    assertEquals(admitted, admit("second", scopes, reserve, START).admitted());
  }

  @Test void aReservationNearTheLargestLongDoesNotWrapPastALimit() {
    var scopes = user(tokens(Window.HOUR, 1000));
    admitted(admit("first", scopes, 600, START));
    Refusal r = refused(admit("huge", scopes, Long.MAX_VALUE - 100, START));
    assertEquals(AdmissionRefusal.TOKEN_RATE_LIMIT, r.reason());
  }

  @Test void tokenCountersStopAtTheLargestLongInsteadOfTurningNegative() {
    admitted(admit("a", user(Limits.NONE), Long.MAX_VALUE - 1, START));
    admitted(admit("b", user(Limits.NONE), 10, START));
    assertEquals(Long.MAX_VALUE, tokens(Window.MINUTE, START));
    quotas.settle("b", Long.MAX_VALUE, START);
    assertTrue(tokens(Window.MINUTE, START) >= 0, "never negative");
    var limited = user(tokens(Window.MINUTE, 1000));
    assertEquals(AdmissionRefusal.TOKEN_RATE_LIMIT, refused(admit("c", limited, 1, START)).reason());
  }

  @Test void aTokenLimitOfZeroRefusesEvenAnEmptyWindow() {
    Refusal r = refused(admit("a", user(tokens(Window.DAY, 0)), 0, START));
    assertEquals(AdmissionRefusal.TOKEN_BUDGET, r.reason());
  }

  // ---------------------------------------------------------------- which refusal wins

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "the longer wait wins          | CONCURRENCY_LIMIT,1  | REQUEST_RATE_LIMIT,30 | REQUEST_RATE_LIMIT,30",
      "the longer wait wins, reverse | TOKEN_BUDGET,30      | REQUEST_RATE_LIMIT,31 | REQUEST_RATE_LIMIT,31",
      "same wait: the later constant | TOKEN_RATE_LIMIT,30  | REQUEST_RATE_LIMIT,30 | TOKEN_RATE_LIMIT,30",
      "same wait: later, reverse     | REQUEST_RATE_LIMIT,1 | CONCURRENCY_LIMIT,1   | REQUEST_RATE_LIMIT,1",
      "budget is the most specific   | TOKEN_RATE_LIMIT,60  | TOKEN_BUDGET,60       | TOKEN_BUDGET,60"})
  void theRefusalToldIsTheLongestWaitThenTheLaterConstant(String name, String first, String second, String winner) {
    assertEquals(refusal(winner), Refusal.worse(refusal(first), refusal(second)));
  }

  private static Refusal refusal(String reasonAndRetry) {
    String[] p = reasonAndRetry.split(",");
    return new Refusal(AdmissionRefusal.valueOf(p[0]), p[0], Long.parseLong(p[1]));
  }

  @Test void onAFullTieTheFirstFoundIsTold() {
    Refusal a = new Refusal(AdmissionRefusal.REQUEST_RATE_LIMIT, "first", 30);
    Refusal b = new Refusal(AdmissionRefusal.REQUEST_RATE_LIMIT, "second", 30);
    assertEquals(a, Refusal.worse(a, b));
    assertEquals(a, Refusal.worse(null, a));
    assertEquals(a, Refusal.worse(a, null));
    assertNull(Refusal.worse(null, null));
  }

  @Test void theLongestWaitWinsAcrossLimitsOfOneScope() {
    var scopes = user(new Limits(Map.of(Window.MINUTE, 0L), Map.of(Window.HOUR, 0L), 0));
    Refusal r = refused(admit("a", scopes, 1, START));
    assertEquals(AdmissionRefusal.TOKEN_RATE_LIMIT, r.reason());
    assertEquals(2370, r.retryAfterSeconds());
  }

  @Test void theLongestWaitWinsAcrossScopes() {
    var scopes = List.of(Applying.user(ALICE, requests(Window.MINUTE, 0)), Applying.key("key_1", requests(Window.DAY, 0)));
    Refusal r = refused(admit("a", scopes, 1, START));
    assertEquals(49170, r.retryAfterSeconds());
    assertTrue(r.message().contains("per day for key key_1"), r.message());
  }

  @Test void withTheSameWaitTheLaterConstantWinsOverConcurrency() {
    Instant lastSecond = Window.MINUTE.end(START).minusMillis(500);            // the minute's wait is 1 s too
    var scopes = user(new Limits(Map.of(Window.MINUTE, 1L), Map.of(), 1));
    admitted(admit("a", scopes, 1, lastSecond));
    Refusal r = refused(admit("b", scopes, 1, lastSecond));
    assertEquals(AdmissionRefusal.REQUEST_RATE_LIMIT, r.reason());
    assertEquals(1, r.retryAfterSeconds());
  }

  @Test void onAFullTieTheFirstScopeIsNamed() {
    var scopes = List.of(Applying.user(ALICE, requests(Window.MINUTE, 0)), Applying.key("key_1", requests(Window.MINUTE, 0)));
    assertTrue(refused(admit("a", scopes, 1, START)).message().contains("for user alice;"));
  }

  // ---------------------------------------------------------------- concurrency

  @Test void concurrencySlotsAreFreedBySettling() {
    var scopes = user(concurrent(2));
    admitted(admit("a", scopes, 1, START));
    Decision b = admit("b", scopes, 1, START);
    admitted(b);
    assertEquals(2, b.rate().concurrentLimit());
    assertEquals(2, b.rate().inFlight());
    refused(admit("c", scopes, 1, START));
    assertTrue(quotas.settle("a", 1, START));
    admitted(admit("c", scopes, 1, START));
    assertEquals(2, quotas.usage(START).inFlight());
  }

  @Test void aConcurrencyLimitOfZeroRefusesEverything() {
    assertEquals(AdmissionRefusal.CONCURRENCY_LIMIT, refused(admit("a", user(concurrent(0)), 1, START)).reason());
  }

  @Test void concurrencyIsCountedPerScope() {
    var key1 = List.of(Applying.user(ALICE, Limits.NONE), Applying.key("key_1", concurrent(1)));
    var key2 = List.of(Applying.user(ALICE, Limits.NONE), Applying.key("key_2", concurrent(1)));
    admitted(admit("a", key1, 1, START));
    refused(admit("b", key1, 1, START));
    admitted(admit("b", key2, 1, START));
    assertEquals(2, quotas.usage(START).inFlight(), "the user scope counts both");
  }

  // ---------------------------------------------------------------- the admission id

  @Test void aRepeatedAdmissionIdIsAdmittedWithoutCountingTwice() {
    var scopes = user(new Limits(Map.of(Window.MINUTE, 1L), Map.of(), 1));
    admitted(admit("a", scopes, 10, START));
    Decision again = admit("a", scopes, 10, START.plusSeconds(1));
    admitted(again);
    assertEquals(List.of(new WindowState(Window.MINUTE, 1, 0, Window.MINUTE.end(START))), again.rate().requests());
    assertEquals(1, requests(Window.MINUTE, START));
    assertEquals(10, tokens(Window.MINUTE, START));
    assertEquals(1, quotas.usage(START).inFlight());
    assertTrue(quotas.settle("a", 3, START));
    assertFalse(quotas.settle("a", 3, START), "one reservation, one settle");
  }

  @Test void aRepeatedAdmissionIdIsAdmittedEvenWhereANewOneWouldBeRefused() {
    var scopes = user(requests(Window.MINUTE, 1));
    admitted(admit("a", scopes, 1, START));
    refused(admit("b", scopes, 1, START));
    admitted(admit("a", scopes, 1, START));
  }

  // ---------------------------------------------------------------- rate info

  @Test void rateInfoReportsTheScopeWithTheFewestRemainingPerWindow() {
    var scopes = List.of(
        Applying.user(ALICE, new Limits(Map.of(Window.MINUTE, 10L, Window.DAY, 100L), Map.of(Window.HOUR, 50L), 5)),
        Applying.model(ALICE, "m", new Limits(Map.of(Window.MINUTE, 3L), Map.of(Window.HOUR, 1000L), null)),
        Applying.key("k", concurrent(2)));
    Decision d = admit("a", scopes, 20, START);
    admitted(d);
    assertEquals(List.of(new WindowState(Window.MINUTE, 3, 2, Window.MINUTE.end(START)),
        new WindowState(Window.DAY, 100, 99, Window.DAY.end(START))), d.rate().requests(), "in window order");
    assertEquals(List.of(new WindowState(Window.HOUR, 50, 30, Window.HOUR.end(START))), d.rate().tokens());
    assertEquals(2, d.rate().concurrentLimit(), "the key's concurrency limit is the tightest");
    assertEquals(1, d.rate().inFlight());
  }

  @Test void onATieTheFirstScopeIsReported() {
    var scopes = List.of(Applying.user(ALICE, requests(Window.MINUTE, 5)), Applying.key("k", requests(Window.MINUTE, 6)));
    admitted(admit("a", List.of(scopes.get(1)), 1, START));                  // the key alone: 5 left in both scopes
    assertEquals(5, quotas.rate(scopes, START).requests().get(0).limit());
  }

  @Test void withoutAnyLimitTheRateInfoIsEmptyButCountsTheUsersRequestsInFlight() {
    admitted(admit("a", user(Limits.NONE), 1, START));
    Decision d = admit("b", List.of(Applying.user(ALICE, Limits.NONE), Applying.key("k", Limits.NONE)), 1, START);
    assertEquals(new RateInfo(List.of(), List.of(), null, 2), d.rate());
  }

  @Test void aRefusalCarriesTheRateInfoOfTheLimitsThatRefused() {
    var scopes = user(requests(Window.MINUTE, 1));
    admitted(admit("a", scopes, 1, START));
    Decision d = admit("b", scopes, 1, START);
    assertEquals(List.of(new WindowState(Window.MINUTE, 1, 0, Window.MINUTE.end(START))), d.rate().requests());
  }

  @Test void rateInfoSeesTheWindowRollOver() {
    var scopes = user(requests(Window.MINUTE, 2));
    admitted(admit("a", scopes, 1, START));
    Instant next = Window.MINUTE.end(START);
    assertEquals(List.of(new WindowState(Window.MINUTE, 2, 2, Window.MINUTE.end(next))), quotas.rate(scopes, next).requests());
  }

  // ---------------------------------------------------------------- scopes and the answer

  @Test void aRequestMustFitTheUserTheModelAndTheKey() {
    UserLimits effective = new UserLimits(requests(Window.MINUTE, 1), Map.of("m", requests(Window.HOUR, 2)));
    UserActor.Key key = new UserActor.Key("key_1", "d".repeat(64), "k", START, null, List.of(), concurrent(3), null);
    assertEquals(List.of(new Applying("user", "user alice", requests(Window.MINUTE, 1)),
        new Applying("model:m", "user alice on model m", requests(Window.HOUR, 2)),
        new Applying("key:key_1", "key key_1", concurrent(3))), Applying.forRequest(ALICE, effective, "m", key));
    assertEquals(List.of(new Applying("user", "user alice", requests(Window.MINUTE, 1)),
        new Applying("model:other", "user alice on model other", Limits.NONE)), Applying.forRequest(ALICE, effective, "other", null),
        "a trusted credential has no key scope");
  }

  @Test void theDecisionBecomesTheAdmission() {
    RateInfo rate = new RateInfo(List.of(), List.of(), 4, 1);
    var admitted = assertInstanceOf(Admission.Admitted.class, new Decision(null, rate).toAdmission("alice", "key_1"));
    assertEquals(new Admission.Admitted("alice", "key_1", rate), admitted);
    var refusal = new Refusal(AdmissionRefusal.TOKEN_BUDGET, "no", 60);
    assertEquals(new Admission.Refused(AdmissionRefusal.TOKEN_BUDGET, "no", 60, "key_1", rate),
        new Decision(refusal, rate).toAdmission("alice", "key_1"));
  }
}
