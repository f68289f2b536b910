package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import sluice.bench.JournalBench.Data;
import sluice.bench.JournalBench.DbRun;
import sluice.bench.JournalFill.Phase;
import sluice.bench.JournalProbe.IndexResult;
import sluice.bench.JournalProbe.IndexRun;
import sluice.bench.JournalProbe.RecoveryResult;
import sluice.bench.JournalProbe.TagRead;
import sluice.bench.JournalProbe.UserRun;

class JournalReportTest {
  static final JournalPlan PLAN = JournalPlan.of(JournalPlan.DEFAULT_EVENTS);

  static List<Phase> phases(double seconds) {
    return List.of(
        new Phase("ordinary users: key events among checkpoints", 10_000, 1, 800, 870_000, Duration.ofMillis((long) (seconds * 1000)), Duration.ofSeconds(40)),
        new Phase("ordinary users: checkpoints only", 10_000, 1, 800, 90_010, Duration.ofSeconds(30), Duration.ofSeconds(3)),
        new Phase("one writer alone", 1, 1, 1, 2_000, Duration.ofSeconds(5), Duration.ofMillis(500)),
        new Phase("long histories together", 19, 100, 19, 37_990, Duration.ofSeconds(4), Duration.ofMillis(400)));
  }

  static IndexResult index(double cold, int keysWrong) {
    int keys = PLAN.expectedKeys().size();
    IndexRun first = new IndexRun(cold, PLAN.expectedUsers(), PLAN.expectedUsers(), keys - keysWrong, keysWrong, keys);
    IndexRun second = new IndexRun(cold / 2, PLAN.expectedUsers(), PLAN.expectedUsers(), keys, 0, keys);
    return new IndexResult(List.of(first, second), new TagRead(1.2, cold / 2, 35_000));
  }

  static RecoveryResult recovery(int keys, double... millis) {
    List<UserRun> runs = new java.util.ArrayList<>();
    for (int i = 0; i < millis.length; i++) runs.add(new UserRun("long-0" + i, millis[i], keys, keys));
    return new RecoveryResult(3.1, 250, runs);
  }

  static DbRun db(String name, int keysWrong, String failure) {
    Map<String, Long> sizes = new LinkedHashMap<>();
    sizes.put("event_journal rows", 1_000_000L);
    sizes.put("event_tag rows", 36_020L);
    sizes.put("database bytes", 1_200_000_000L);
    return new DbRun(name, name + " 1.0", phases(400), sizes, Duration.ofSeconds(3), index(4.5, keysWrong), index(9.25, 0),
        index(4.75, 0), Duration.ofSeconds(2), recovery(3, 900, 300, 310, 320), recovery(4, 120, 40, 44, 41), Map.of("fill", "0.50 0.40 0.30"), failure);
  }

  static Data data(DbRun... runs) {
    return new Data(ZonedDateTime.of(2026, 12, 6, 7, 0, 0, 0, ZoneOffset.UTC), Duration.ofMinutes(25), "bin/sluice bench --journal",
        ReportTest.MACHINE, PLAN, Map.of("jdbc-journal.bufferSize", "1000", "jdbc-read-journal.journal-sequence-retrieval.batch-size", "10000"),
        List.of(runs));
  }

  @Test void bothDatabasesSideBySideWithTheSummaryFigures() {
    String md = JournalReport.markdown(data(db("H2", 0, null), db("PostgreSQL", 0, null)));
    assertTrue(md.contains("|  | H2 | PostgreSQL |"), md);
    assertTrue(md.contains("| key index catch-up on 1,000,000 events, cold JVM, with the V3 tag index (two runs) | 4.50 s, 4.75 s | 4.50 s, 4.75 s |"), md);
    assertTrue(md.contains("| with the V3 tag index again (rebuilt): **cold JVM** | 4.75 s | 4.75 s |"), md);
    assertTrue(md.contains("36,080 of the 1,000,000 events (3.6 %)"), md);
    assertTrue(md.contains("| without the tag index: **cold JVM** | 9.25 s | 9.25 s |"), md);
    assertTrue(md.contains("checkpoints only | 3,000 events/s | 3,000 events/s |"), md);
    // the median of the users after the first, and the first
    assertTrue(md.contains("310 ms (first 900 ms)"), md);
    assertTrue(md.contains("| no snapshot: median / max of the other 9 | 310 ms / 320 ms | 310 ms / 320 ms |"), md);
    assertTrue(md.contains("100 queries for 1,000,000 events"), md);
    assertTrue(md.contains("| keys mapped to the right user / expected (every load) | 25,060 / 25,060 |"), md);
    assertFalse(md.contains("was shared"), "a quiet machine gets no warning");
    assertTrue(JournalReport.complete(data(db("H2", 0, null), db("PostgreSQL", 0, null))));
  }

  @Test void aWrongIndexAFailureAndABusyMachineAreSaid() {
    Data d = data(db("H2", 3, null), new DbRun("PostgreSQL", "(not started)", null, null, null, null, null, null, null, null, null,
        Map.of("fill", "3.10 2.00 1.00"), "cannot set up the database: no initdb"));
    String md = JournalReport.markdown(d);
    assertFalse(JournalReport.complete(d));
    assertFalse(JournalReport.correct(d.runs().get(0)), "3 keys mapped wrong");
    assertTrue(md.contains("**PostgreSQL: not everything was measured:** cannot set up the database: no initdb"), md);
    assertTrue(md.contains("| key index catch-up on 1,000,000 events, cold JVM, with the V3 tag index (two runs) | 4.50 s, 4.75 s | — |"), md);
    assertTrue(md.contains("25,057 / 25,060, 25,060 / 25,060, 25,060 / 25,060, 25,060 / 25,060, 25,060 / 25,060, 25,060 / 25,060"), md);
    assertTrue(md.contains("**The machine was busy.**") && md.contains("PostgreSQL fill: 3.10"), md);
  }
}
