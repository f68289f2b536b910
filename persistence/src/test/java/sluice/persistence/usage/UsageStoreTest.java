package sluice.persistence.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static sluice.persistence.usage.Records.T0;
import static sluice.persistence.usage.Records.config;
import static sluice.persistence.usage.Records.rec;

import com.fasterxml.jackson.databind.MappingIterator;
import com.typesafe.config.Config;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.agent.testing.Await;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.testing.TestDatabase;
import sluice.persistence.usage.UsageSummary.Group;
import sluice.persistence.usage.UsageSummary.Totals;

/** The usage table on the embedded H2 file and on PostgreSQL, through real JDBC. */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
class UsageStoreTest {
  @Parameter TestDatabase database;
  @TempDir Path dir;
  Config config;
  UsageStore store;

  @BeforeEach void open() {
    config = config(database, dir);
    store = UsageStore.open(config);
  }

  @AfterEach void close() { store.close(); }

  private static Instant at(int minutes) { return T0.plus(Duration.ofMinutes(minutes)); }

  @Test void summaryTotalsEverythingAndEachUserAndModel() throws Exception {
    store.insert(List.of(
        rec("r1", "bob", "llama", 200, 100, 50, at(0)),
        rec("r2", "alice", "llama", 200, 10, 20, at(1)),
        rec("r3", "alice", "llama", 503, 0, 0, at(2)),
        new UsageRecord("r4", "alice", "key-a", "mistral", "/v1/completions", null, false, 200, 7, 3, null,
            Duration.ofSeconds(2), true, false, at(3)),
        rec("r5", "bob", "llama", 429, 0, 0, at(4))));

    UsageSummary s = store.summary(UsageFilter.all());

    assertEquals(new Totals(5, 117, 73, 190, 2, 1), s.total());
    assertEquals(List.of(
        new Group("alice", "llama", new Totals(2, 10, 20, 30, 1, 0)),
        new Group("alice", "mistral", new Totals(1, 7, 3, 10, 0, 1)),
        new Group("bob", "llama", new Totals(2, 100, 50, 150, 1, 0))), s.byUserAndModel());
  }

  @Test void filtersByUserModelAndAPeriodThatIncludesItsStartAndExcludesItsEnd() throws Exception {
    store.insert(List.of(
        rec("a0", "alice", "llama", 200, 1, 0, at(0)),
        rec("a1", "alice", "llama", 200, 2, 0, at(1)),
        rec("a2", "alice", "mistral", 200, 4, 0, at(2)),
        rec("b1", "bob", "llama", 200, 8, 0, at(1))));

    assertEquals(7, prompt(UsageFilter.of("alice", null, null, null)));
    assertEquals(11, prompt(UsageFilter.of(null, "llama", null, null)));
    assertEquals(3, prompt(UsageFilter.of("alice", "llama", null, null)));
    assertEquals(10, prompt(UsageFilter.of(null, null, at(1), at(2))), "from is inclusive, to exclusive");
    assertEquals(14, prompt(UsageFilter.of(null, null, at(1), null)));
    assertEquals(1, prompt(UsageFilter.of(null, null, null, at(1))));
    assertEquals(0, prompt(UsageFilter.of("carol", null, null, null)));
    assertEquals(List.of(), store.summary(UsageFilter.of("carol", null, null, null)).byUserAndModel());
  }

  private long prompt(UsageFilter f) throws Exception { return store.summary(f).total().promptTokens(); }

  @Test void recordsComeBackNewestFirstUpToTheLimitWithEveryField() throws SQLException {
    var noJob = new UsageRecord("same-id", "alice", "key-a", "llama", "/v1/completions", null, false, 400, 3, 0, null,
        Duration.ofMillis(15), false, true, at(5).plusNanos(123_000));   // ended at a shutdown
    store.insert(List.of(rec("r0", at(0)), rec("r1", at(1)), rec("r2", at(2)), rec("same-id", at(3)), noJob));

    List<UsageRecord> newest = store.records(UsageFilter.all(), 3);

    assertEquals(List.of(noJob, rec("same-id", at(3)), rec("r2", at(2))), newest, "client request ids may repeat");
    assertEquals(List.of(rec("r1", at(1))), store.records(UsageFilter.of(null, null, at(1), at(2)), 10));
    assertThrows(IllegalArgumentException.class, () -> store.records(UsageFilter.all(), 0));
  }

  @Test void csvExportHasAHeaderAndEveryMatchingRecordOldestFirst() throws Exception {
    store.insert(List.of(
        rec("r1", "alice", "llama", 200, 10, 5, at(0)),
        new UsageRecord("r2, \"quoted\"", "alice", "key-a", "llama", "/v1/completions", null, false, 502, 4, 0, null,
            Duration.ofMillis(1500), true, false, at(1)),
        rec("r3", "bob", "llama", 200, 1, 1, at(2))));
    var out = new ByteArrayOutputStream();

    store.exportCsv(UsageFilter.of("alice", null, null, null), out);

    String csv = out.toString(StandardCharsets.UTF_8);
    assertEquals("\"request_id\",\"user\",\"key_id\",\"model\",\"endpoint\",\"job_id\",\"stream\",\"status\",\"prompt_tokens\","
        + "\"completion_tokens\",\"total_tokens\",\"ttft_ms\",\"duration_ms\",\"client_disconnected\",\"server_shutdown\",\"started_at\"",
        csv.lines().findFirst().orElseThrow());
    List<Map<String, String>> rows = new ArrayList<>();
    try (MappingIterator<Map<String, String>> it = new CsvMapper().readerForMapOf(String.class)
        .with(CsvSchema.emptySchema().withHeader()).readValues(csv)) {
      it.forEachRemaining(rows::add);
    }
    assertEquals(2, rows.size());
    assertEquals(Map.ofEntries(Map.entry("request_id", "r1"), Map.entry("user", "alice"), Map.entry("key_id", "key-alice"),
        Map.entry("model", "llama"), Map.entry("endpoint", "/v1/chat/completions"), Map.entry("job_id", "job-7"),
        Map.entry("stream", "true"), Map.entry("status", "200"), Map.entry("prompt_tokens", "10"),
        Map.entry("completion_tokens", "5"), Map.entry("total_tokens", "15"), Map.entry("ttft_ms", "120"),
        Map.entry("duration_ms", "900"), Map.entry("client_disconnected", "false"), Map.entry("server_shutdown", "false"),
        Map.entry("started_at", "2026-03-01T10:00:00Z")), rows.get(0));
    Map<String, String> second = rows.get(1);
    assertEquals("r2, \"quoted\"", second.get("request_id"));
    assertEquals("", second.get("job_id"));
    assertEquals("", second.get("ttft_ms"));
    assertEquals("502", second.get("status"));
    assertEquals("true", second.get("client_disconnected"));
    assertEquals("2026-03-01T10:01:00Z", second.get("started_at"));
  }

  /** OWASP's CSV injection rule: a text cell a spreadsheet would run as a formula starts with a quote; text is quoted. */
  @Test void csvNeutralisesFormulasAndQuotesEveryTextCell() throws Exception {
    store.insert(List.of(new UsageRecord("-1-1", "+1+1", "@SUM(A1:A9)", "=HYPERLINK(\"http://x.example\",\"y\")",
        "\t/v1/x", "\rjob", false, 404, 3, 0, null, Duration.ofMillis(2), false, false, at(0)),
        new UsageRecord("r2", "alice", "-", "llama", "/v1/completions", null, false, 200, 1, 2, null, Duration.ofMillis(5), false,
            false, at(1))));
    var out = new ByteArrayOutputStream();

    store.exportCsv(UsageFilter.all(), out);

    String csv = out.toString(StandardCharsets.UTF_8);
    String[] lines = csv.split("\n");                                   // not lines(): a cell holds a CR
    assertEquals("\"'-1-1\",\"'+1+1\",\"'@SUM(A1:A9)\",\"'=HYPERLINK(\"\"http://x.example\"\",\"\"y\"\")\",\"'\t/v1/x\","
        + "\"'\rjob\",false,404,3,0,3,,2,false,false,\"2026-03-01T10:00:00Z\"", lines[1],
        "text quoted, quotes doubled, formulas prefixed; numbers and booleans as they are");
    assertEquals("\"r2\",\"alice\",\"-\",\"llama\",\"/v1/completions\",\"\",false,200,1,2,3,,5,false,false,\"2026-03-01T10:01:00Z\"",
        lines[2], "a lone '-' (no value) is no formula");
    List<Map<String, String>> rows = new ArrayList<>();
    try (MappingIterator<Map<String, String>> it = new CsvMapper().readerForMapOf(String.class)
        .with(CsvSchema.emptySchema().withHeader()).readValues(csv)) {
      it.forEachRemaining(rows::add);
    }
    assertEquals("'=HYPERLINK(\"http://x.example\",\"y\")", rows.get(0).get("model"));
    assertEquals("'-1-1", rows.get(0).get("request_id"));
    assertEquals("'\rjob", rows.get(0).get("job_id"));
  }

  private static UsageRecord timed(String id, String model, int status, Long ttftMillis, Instant startedAt) {
    return new UsageRecord(id, "alice", "key-a", model, "/v1/chat/completions", null, true, status, 1, 1,
        ttftMillis == null ? null : Duration.ofMillis(ttftMillis), Duration.ofMillis(900), false, false, startedAt);
  }

  @Test void trafficCountsRequestsErrorsAndTheMedianTimeToFirstTokenPerModelAndMinute() throws Exception {
    Instant ten = T0;                                                  // 10:00:00 UTC
    store.insert(List.of(
        timed("early", "llama", 200, 10L, ten.minusMillis(1)),        // before the period
        timed("a", "llama", 200, 100L, ten),
        timed("b", "llama", 200, 300L, ten.plusSeconds(59)),
        timed("c", "llama", 503, null, ten.plusSeconds(70)),          // no token came: no time to first token
        timed("d", "llama", 429, null, ten.plusSeconds(80)),
        timed("e", "mistral", 200, 50L, ten.plusSeconds(61)),
        timed("late", "llama", 200, 10L, ten.plusSeconds(120))));     // the period's end is excluded

    List<TrafficMinute> t = store.traffic(ten, ten.plusSeconds(120));

    assertEquals(List.of(
        new TrafficMinute("llama", ten, 2, 0, 200.0),
        new TrafficMinute("llama", ten.plusSeconds(60), 2, 2, null),
        new TrafficMinute("mistral", ten.plusSeconds(60), 1, 0, 50.0)), t);
    assertEquals(List.of(), store.traffic(ten.plusSeconds(3600), ten.plusSeconds(7200)));
  }

  @Test void topUsersAreRankedByTokensOverThePeriodUpToTheLimit() throws Exception {
    Instant midnight = Instant.parse("2026-03-01T00:00:00Z");
    store.insert(List.of(
        rec("y", "carol", "llama", 200, 5000, 5000, midnight.minusSeconds(1)),   // yesterday: not counted
        rec("a1", "alice", "llama", 200, 10, 20, midnight),
        rec("a2", "alice", "mistral", 200, 5, 5, at(1)),
        rec("b1", "bob", "llama", 200, 100, 50, at(2)),
        rec("c1", "carol", "llama", 200, 1, 0, at(3)),
        rec("d1", "dave", "llama", 500, 0, 0, at(4))));

    assertEquals(List.of(new UserTokens("bob", 150, 1), new UserTokens("alice", 40, 2)),
        store.topUsers(midnight, midnight.plus(Duration.ofDays(1)), 2));
    assertEquals(List.of(new UserTokens("bob", 150, 1), new UserTokens("alice", 40, 2), new UserTokens("carol", 1, 1),
        new UserTokens("dave", 0, 1)), store.topUsers(midnight, midnight.plus(Duration.ofDays(1)), 10));
    assertThrows(IllegalArgumentException.class, () -> store.topUsers(midnight, at(5), 0));
  }

  @Test void csvOfNoRecordsIsJustTheHeader() throws Exception {
    var out = new ByteArrayOutputStream();
    store.exportCsv(UsageFilter.all(), out);
    assertEquals(1, out.toString(StandardCharsets.UTF_8).lines().count());
  }

  @Test void openingAgainKeepsTheTableAndItsRows() throws Exception {
    store.insert(List.of(rec("r1", at(0))));
    store.close();

    store = UsageStore.open(config);
    store.insert(List.of(rec("r2", at(1))));

    assertEquals(2, store.summary(UsageFilter.all()).total().requests());
  }

  @Test void theWriterReconnectsAfterTheDatabaseWasRestarted() throws Exception {
    store.insert(List.of(rec("r1", at(0))));
    DatabaseSettings db = DatabaseSettings.from(config);
    if (database == TestDatabase.H2) {
      try (Connection c = db.connect(); Statement s = c.createStatement()) {
        s.execute("SHUTDOWN");                                        // closes every connection, as a restart would
      }
    } else {
      try (Connection c = TestDatabase.superuser("postgres"); Statement s = c.createStatement()) {
        String name = TestDatabase.databaseOf(db.url());
        s.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = '" + name + "'");
        // as a restart of the server would; the backends end a moment after the signal
        Await.until(Duration.ofSeconds(10), "the terminated backends to end", () -> {
          try (ResultSet rs = s.executeQuery("SELECT COUNT(*) FROM pg_stat_activity WHERE datname = '" + name + "'")) {
            return rs.next() && rs.getInt(1) == 0;
          }
        });
      }
    }

    assertThrows(SQLException.class, () -> store.insert(List.of(rec("lost", at(1)))));
    store.insert(List.of(rec("r2", at(2))));

    assertEquals(List.of(rec("r2", at(2)), rec("r1", at(0))), store.records(UsageFilter.all(), 10));
  }

  @Test void invalidInputIsRejectedWithTheFieldsName() {
    var e = assertThrows(IllegalArgumentException.class, () -> rec("r", "alice", "llama", 200, -1, 0, T0));
    assertEquals("promptTokens must be >= 0: -1", e.getMessage());
    assertEquals("userId is required",
        assertThrows(IllegalArgumentException.class, () -> rec("r", " ", "llama", 200, 0, 0, T0)).getMessage());
    assertThrows(IllegalArgumentException.class, () -> rec("r", "alice", "llama", 42, 0, 0, T0));
    assertThrows(IllegalArgumentException.class, () -> UsageFilter.of(null, null, at(2), at(2)));
    assertThrows(IllegalArgumentException.class, () -> UsageFilter.of("", null, null, null));
    assertThrows(NullPointerException.class, () -> new UsageFilter(null, Optional.empty(), Optional.empty(), Optional.empty()));
  }
}
