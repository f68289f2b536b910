package sluice.persistence.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.persistence.usage.Records.config;
import static sluice.persistence.usage.Records.rec;

import com.typesafe.config.Config;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.testing.TestDatabase;

/**
 * Usage retention on H2 and PostgreSQL: whole days older than the retention are folded into daily totals and their
 * records deleted, with every total kept, one day at a time, all or nothing.
 */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
class UsageRollUpTest {
  /** Now, for the roll-up: with 90 days of retention, records before 2026-03-17T00:00Z are folded. */
  static final Instant NOW = Instant.parse("2026-06-15T09:30:00Z");
  static final Instant CUTOFF = Instant.parse("2026-03-17T00:00:00Z");
  static final UsageRollUp.Settings NINETY_DAYS = new UsageRollUp.Settings(Optional.of(Duration.ofDays(90)),
      Duration.ZERO, Duration.ofDays(1));

  @Parameter TestDatabase database;
  @TempDir Path dir;
  Config config;
  DatabaseSettings db;
  UsageStore store;

  @BeforeEach void open() {
    config = config(database, dir);
    db = DatabaseSettings.from(config);
    store = UsageStore.open(config);
  }

  @AfterEach void close() { store.close(); }

  UsageRollUp rollUp(UsageRollUp.Settings settings) { return new UsageRollUp(db, settings, Clock.fixed(NOW, ZoneOffset.UTC)); }

  static Instant t(String iso) { return Instant.parse(iso); }

  static UsageRecord withKey(String id, String user, String key, String model, int status, long prompt, long completion,
                             boolean disconnected, Instant at) {
    return new UsageRecord(id, user, key, model, "/v1/chat/completions", null, false, status, prompt, completion, null,
        Duration.ofMillis(300), disconnected, false, at);
  }

  /** Two old days (one of them at both of its edges) and three records the retention keeps. */
  static final List<UsageRecord> OLD = List.of(
      rec("a1", "alice", "llama", 200, 10, 5, t("2026-03-10T08:00:00Z")),
      rec("a2", "alice", "llama", 503, 0, 0, t("2026-03-10T09:00:00Z")),
      withKey("a3", "alice", "key-alice-2", "llama", 200, 3, 4, true, t("2026-03-10T10:00:00Z")),
      rec("b1", "bob", "mistral", 200, 7, 1, t("2026-03-10T23:00:00Z")),
      rec("b2", "bob", "llama", 429, 0, 0, t("2026-03-16T00:00:00Z")),
      rec("a4", "alice", "llama", 200, 2, 2, t("2026-03-16T23:59:59.999999Z")));
  static final List<UsageRecord> KEPT = List.of(
      rec("a5", "alice", "llama", 200, 1, 1, CUTOFF),
      rec("b3", "bob", "llama", 200, 20, 30, t("2026-05-01T12:00:00Z")),
      rec("a6", "alice", "mistral", 400, 5, 0, t("2026-06-15T09:00:00Z")));

  /** The summaries an operator would ask for, over whole days, across the cutoff and per user and model. */
  static final List<UsageFilter> QUERIES = List.of(
      UsageFilter.all(),
      UsageFilter.of("alice", null, null, null),
      UsageFilter.of("bob", null, null, null),
      UsageFilter.of(null, "llama", null, null),
      UsageFilter.of("alice", "llama", null, null),
      UsageFilter.of(null, null, t("2026-03-10T00:00:00Z"), t("2026-03-11T00:00:00Z")),
      UsageFilter.of(null, null, t("2026-03-16T00:00:00Z"), t("2026-03-18T00:00:00Z")),
      UsageFilter.of("alice", null, t("2026-03-01T00:00:00Z"), null),
      UsageFilter.of(null, null, null, t("2026-03-16T00:00:00Z")),
      UsageFilter.of(null, null, t("2026-03-17T06:00:00Z"), t("2026-06-15T09:10:00Z")));

  Map<UsageFilter, UsageSummary> summaries() throws Exception {
    Map<UsageFilter, UsageSummary> m = new LinkedHashMap<>();
    for (UsageFilter f : QUERIES) m.put(f, store.summary(f));
    return m;
  }

  @Test void foldingOldDaysKeepsEveryTotalAndDeletesExactlyTheirRecords() throws Exception {
    store.insert(OLD);
    store.insert(KEPT);
    var before = summaries();

    UsageRollUp.Run run = rollUp(NINETY_DAYS).run();

    assertEquals(Optional.empty(), run.failure());
    assertEquals(CUTOFF, run.before());
    assertEquals(2, run.days());
    assertEquals(6, run.records());
    assertEquals(before, summaries(), "every total the same, per user and model, over any whole days");
    assertEquals(new HashSet<>(KEPT), new HashSet<>(store.records(UsageFilter.all(), 100)), "only the old records are gone");
    assertEquals(List.of(
        "2026-03-10 alice key-alice llama 2 10 5 1 0",
        "2026-03-10 alice key-alice-2 llama 1 3 4 0 1",
        "2026-03-10 bob key-bob mistral 1 7 1 0 0",
        "2026-03-16 alice key-alice llama 1 2 2 0 0",
        "2026-03-16 bob key-bob llama 1 0 0 1 0"), daily(), "one row per day, user, key and model");
  }

  @Test void runningAgainChangesNothing() throws Exception {
    store.insert(OLD);
    store.insert(KEPT);
    rollUp(NINETY_DAYS).run();
    List<String> daily = daily();
    var summaries = summaries();

    UsageRollUp.Run again = rollUp(NINETY_DAYS).run();

    assertEquals(0, again.days());
    assertEquals(0, again.records());
    assertEquals(daily, daily());
    assertEquals(summaries, summaries());
    assertEquals(new HashSet<>(KEPT), new HashSet<>(store.records(UsageFilter.all(), 100)));
  }

  @Test void aRecordThatArrivesForAFoldedDayIsAddedToItsRow() throws Exception {
    store.insert(OLD);
    rollUp(NINETY_DAYS).run();
    // e.g. written by a gateway whose database was down for longer than the retention
    store.insert(List.of(rec("late", "alice", "llama", 500, 100, 1, t("2026-03-10T12:00:00Z"))));
    var withLate = summaries();
    assertEquals(7, withLate.get(UsageFilter.all()).total().requests(), "counted while raw, next to the daily row");

    UsageRollUp.Run run = rollUp(NINETY_DAYS).run();

    assertEquals(1, run.records());
    assertEquals(withLate, summaries());
    assertTrue(daily().contains("2026-03-10 alice key-alice llama 3 110 6 2 0"), daily().toString());
    assertEquals(List.of(), store.records(UsageFilter.all(), 100));
  }

  @Test void aDayThatFailsHalfwayIsLeftAsItWasAndFoldedByTheNextRun() throws Exception {
    store.insert(OLD);
    store.insert(KEPT);
    var before = summaries();
    // The database refuses bob's daily rows: the failure comes after the day's records were deleted in its transaction.
    exec("ALTER TABLE sluice_usage_daily ADD CONSTRAINT no_bob CHECK (user_id <> 'bob')");

    UsageRollUp.Run failed = rollUp(NINETY_DAYS).run();

    assertTrue(failed.failure().isPresent(), "the run reports the failure");
    assertTrue(failed.failure().get().getMessage().contains("2026-03-10"), failed.failure().get().getMessage());
    assertEquals(0, failed.days());
    assertEquals(List.of(), daily(), "nothing of the day was added");
    assertEquals(new HashSet<>(concat(OLD, KEPT)), new HashSet<>(store.records(UsageFilter.all(), 100)),
        "nothing of the day was deleted, alice's records neither");
    assertEquals(before, summaries());

    exec("ALTER TABLE sluice_usage_daily DROP CONSTRAINT no_bob");
    UsageRollUp.Run next = rollUp(NINETY_DAYS).run();

    assertEquals(Optional.empty(), next.failure());
    assertEquals(2, next.days());
    assertEquals(before, summaries());
    assertEquals(new HashSet<>(KEPT), new HashSet<>(store.records(UsageFilter.all(), 100)));
  }

  @Test void aBacklogOfManyDaysIsFoldedOneDayPerTransaction() throws Exception {
    int days = 100;
    int perDay = 200;
    LocalDate first = LocalDate.of(2026, 3, 16).minusDays(days - 1);
    List<UsageRecord> batch = new ArrayList<>();
    Set<String> groups = new HashSet<>();
    for (int d = 0; d < days; d++) {
      Instant midnight = first.plusDays(d).atStartOfDay(ZoneOffset.UTC).toInstant();
      for (int i = 0; i < perDay; i++) {
        String user = "u" + (i % 10);
        String model = "m" + (i % 3);
        batch.add(rec("r" + d + "-" + i, user, model, i % 17 == 0 ? 500 : 200, i, 2L * i, midnight.plusSeconds(i * 431L)));
        groups.add(first.plusDays(d) + user + model);
        if (batch.size() == 1000) {
          store.insert(batch);
          batch.clear();
        }
      }
    }
    for (int i = 0; i < 500; i++) batch.add(rec("k" + i, "u" + (i % 10), "m0", 200, 1, 1, CUTOFF.plusSeconds(i * 60L)));
    store.insert(batch);
    var before = summaries();

    UsageRollUp.Run run = rollUp(NINETY_DAYS).run();

    System.out.printf("usage roll-up on %s: %d records of %d days in %d ms%n", database, run.records(), run.days(),
        run.took().toMillis());
    assertEquals(Optional.empty(), run.failure());
    assertEquals(days, run.days(), "one transaction per day");
    assertEquals(days * perDay, run.records());
    assertEquals(groups.size(), daily().size());
    assertEquals(before, summaries());
    assertEquals(500, store.records(UsageFilter.all(), 10_000).size(), "the kept records are all there");
  }

  @Test void twoRunsAtOnceFoldEveryRecordOnce() throws Exception {
    List<UsageRecord> backlog = new ArrayList<>();
    for (int d = 0; d < 30; d++) {
      Instant day = LocalDate.of(2026, 2, 1).plusDays(d).atStartOfDay(ZoneOffset.UTC).toInstant();
      for (int i = 0; i < 50; i++) backlog.add(rec("r" + d + "-" + i, "u" + (i % 4), "llama", 200, 3, 4, day.plusSeconds(i * 600L)));
    }
    store.insert(backlog);
    var before = summaries();
    CountDownLatch go = new CountDownLatch(1);
    List<CompletableFuture<UsageRollUp.Run>> runs = new ArrayList<>();
    for (int n = 0; n < 2; n++) {
      runs.add(CompletableFuture.supplyAsync(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          throw new IllegalStateException(e);
        }
        return rollUp(NINETY_DAYS).run();          // each its own connection, as two gateways would
      }));
    }
    go.countDown();
    UsageRollUp.Run a = runs.get(0).get(60, TimeUnit.SECONDS);
    UsageRollUp.Run b = runs.get(1).get(60, TimeUnit.SECONDS);

    assertEquals(backlog.size(), a.records() + b.records(), "each record folded by exactly one run: " + a + " " + b);
    assertEquals(30, a.days() + b.days());
    assertEquals(before, summaries());
    assertEquals(List.of(), store.records(UsageFilter.all(), 100));
  }

  @Test void withTheRetentionOffNothingIsFolded() throws Exception {
    store.insert(OLD);
    store.insert(KEPT);

    UsageRollUp.Run run = rollUp(new UsageRollUp.Settings(Optional.empty(), Duration.ZERO, Duration.ofDays(1))).run();

    assertEquals(0, run.days());
    assertEquals(List.of(), daily());
    assertEquals(OLD.size() + KEPT.size(), store.records(UsageFilter.all(), 100).size());
  }

  @Test void aPeriodThatStartsOrEndsInsideAFoldedDayIsRefused() throws Exception {
    store.insert(OLD);
    store.insert(KEPT);
    Instant midMorning = t("2026-03-10T10:30:00Z");
    UsageFilter fromInside = UsageFilter.of(null, null, midMorning, null);
    assertEquals(6, store.summary(fromInside).total().requests(), "answered while the day is kept record by record");
    UsageFilter midnights = UsageFilter.of(null, null, t("2026-03-10T00:00:00Z"), t("2026-03-17T00:00:00Z"));
    UsageSummary before = store.summary(midnights);
    rollUp(NINETY_DAYS).run();

    var e = assertThrows(RolledUpPeriod.class, () -> store.summary(fromInside));
    assertEquals("from", e.bound());
    assertEquals("the usage of 2026-03-10 is kept only as daily totals (sluice.usage.retention), so 'from' cannot be "
        + "2026-03-10T10:30:00Z, inside that day: use a date or a UTC midnight (2026-03-10T00:00:00Z or "
        + "2026-03-11T00:00:00Z)", e.getMessage());
    assertEquals("to", assertThrows(RolledUpPeriod.class,
        () -> store.summary(UsageFilter.of("carol", null, null, t("2026-03-16T06:00:00Z")))).bound(), "whoever asks");
    assertEquals(before, store.summary(midnights), "midnights are exact");
    assertEquals(0, store.summary(UsageFilter.of(null, null, t("2026-03-12T10:00:00Z"), t("2026-03-13T10:00:00Z")))
        .total().requests(), "a day without records has nothing folded: still exact");
    assertEquals(1, store.summary(UsageFilter.of(null, null, t("2026-03-17T00:00:01Z"), t("2026-05-02T00:00:00Z")))
        .total().requests(), "days kept record by record take any bound");
  }

  // ---------------------------------------------------------------- helpers

  static <T> List<T> concat(List<T> a, List<T> b) {
    List<T> all = new ArrayList<>(a);
    all.addAll(b);
    return all;
  }

  void exec(String sql) throws SQLException {
    try (Connection c = db.connect(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  /** Every daily row as "day user key model requests prompt completion failed disconnected", sorted. */
  List<String> daily() throws SQLException {
    List<String> rows = new ArrayList<>();
    try (Connection c = db.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
        "SELECT day_utc, user_id, key_id, model, requests, prompt_tokens, completion_tokens, failed_requests, "
            + "client_disconnected FROM sluice_usage_daily")) {
      while (rs.next()) {
        rows.add(rs.getObject(1, LocalDate.class) + " " + rs.getString(2) + " " + rs.getString(3) + " " + rs.getString(4)
            + " " + rs.getLong(5) + " " + rs.getLong(6) + " " + rs.getLong(7) + " " + rs.getLong(8) + " " + rs.getLong(9));
      }
    }
    rows.sort(null);
    return rows;
  }
}
