package sluice.persistence.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.persistence.usage.Records.T0;
import static sluice.persistence.usage.Records.config;
import static sluice.persistence.usage.Records.rec;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.stream.IntStream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.testing.Await;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.policy.Backoff;
import sluice.persistence.testing.TestDatabase;

@ExtendWith(LogCapturingExtension.class)
class UsageWriterTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final Backoff FAST_RETRY = new Backoff(Duration.ofMillis(10), Duration.ofMillis(40));
  static final Duration NEVER = Duration.ofHours(1);                  // only a full batch, flush() or stop() writes

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  @TempDir Path dir;
  UsageStore store;
  CountingSink sink;

  /** Counts inserts and the ids of each stored batch; fails while {@code failures} is above zero. */
  static final class CountingSink implements UsageSink {
    final UsageStore inner;
    final AtomicInteger inserts = new AtomicInteger();
    final AtomicInteger failures = new AtomicInteger();
    final List<List<String>> stored = new CopyOnWriteArrayList<>();
    volatile boolean closed;

    CountingSink(UsageStore inner) { this.inner = inner; }

    @Override public void insert(List<UsageRecord> batch) throws SQLException {
      inserts.incrementAndGet();
      if (failures.getAndUpdate(n -> Math.max(0, n - 1)) > 0) throw new SQLException("database unavailable (test)");
      inner.insert(batch);
      stored.add(batch.stream().map(UsageRecord::requestId).toList());
    }

    @Override public void close() { closed = true; }
  }

  @BeforeEach void open() throws SQLException {
    store = UsageStore.open(config(TestDatabase.H2, dir));   // the writer's logic; the store is tested on both databases
    sink = new CountingSink(store);
  }

  @AfterEach void close() { store.close(); }

  private UsageWriter writer(int batchSize, Duration flushInterval, int maxBuffered) {
    return UsageWriter.start(testKit.system(), sink, new UsageWriterSettings(batchSize, flushInterval, maxBuffered, FAST_RETRY));
  }

  private static <T> T await(java.util.concurrent.CompletionStage<T> s) throws Exception {
    return s.toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private List<String> storedIds() throws SQLException {
    return store.records(UsageFilter.all(), 100_000).stream().map(UsageRecord::requestId).toList();
  }

  @Test void recordsFromManyThreadsAreWrittenExactlyOnceInFewInserts() throws Exception {
    UsageWriter w = writer(500, Duration.ofSeconds(1), 100_000);
    ExecutorService threads = Executors.newFixedThreadPool(4);
    try {
      List<CompletableFuture<Void>> senders = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        int thread = t;
        senders.add(CompletableFuture.runAsync(() -> IntStream.range(0, 500)
            .forEach(i -> w.record(rec("t" + thread + "-" + i, T0.plusMillis(i)))), threads));
      }
      CompletableFuture.allOf(senders.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
    } finally {
      threads.shutdown();
    }

    await(w.flush());

    List<String> ids = storedIds();
    assertEquals(2000, ids.size());
    assertEquals(2000, new HashSet<>(ids).size(), "each record once");
    assertTrue(sink.inserts.get() <= 20, "batched: " + sink.inserts.get() + " inserts for 2000 records");
    assertEquals(2000, w.written());
    assertEquals(0, w.buffered());
    assertEquals(0, w.dropped());
    await(w.stop());
  }

  @Test void flushWritesWhatWasHandedInJustBeforeWithoutWaitingForTheInterval() throws Exception {
    UsageWriter w = writer(500, NEVER, 1000);
    w.record(rec("r1", T0));
    w.record(rec("r2", T0.plusSeconds(1)));

    await(w.flush());

    assertEquals(List.of("r2", "r1"), storedIds());
    w.record(rec("r3", T0.plusSeconds(2)));
    await(w.flush());
    assertEquals(List.of("r3", "r2", "r1"), storedIds());
    await(w.stop());
  }

  @Test void stopWritesEverythingBufferedThenClosesTheSink() throws Exception {
    UsageWriter w = writer(500, NEVER, 1000);
    IntStream.range(0, 7).forEach(i -> w.record(rec("r" + i, T0.plusSeconds(i))));

    await(w.stop());

    assertEquals(7, storedIds().size());
    assertTrue(sink.closed);
    w.record(rec("late", T0));
    assertEquals(1, w.dropped(), "a record after stop is counted as dropped");
    assertEquals(7, storedIds().size());
  }

  @Test void aFailingBatchIsRetriedUntilWrittenInOrderWithoutLossOrDuplicates() throws Exception {
    sink.failures.set(3);
    UsageWriter w = writer(10, NEVER, 1000);
    List<String> sent = IntStream.range(0, 35).mapToObj(i -> "r" + i).toList();
    sent.forEach(id -> w.record(rec(id, T0)));

    await(w.flush());

    assertEquals(sent, sink.stored.stream().flatMap(List::stream).toList(), "every record once, in order");
    assertEquals(35, new HashSet<>(storedIds()).size());
    assertEquals(35, storedIds().size());
    assertEquals(sink.stored.size() + 3, sink.inserts.get(), "three failed attempts, then each batch once");
    await(w.stop());
  }

  @Test void whileTheDatabaseIsDownRecordsBeyondMaxBufferedAreDroppedAndCounted() throws Exception {
    sink.failures.set(Integer.MAX_VALUE);
    UsageWriter w = writer(4, NEVER, 10);

    LoggingTestKit.error("usage buffer full").expect(testKit.system(), () -> {
      IntStream.range(0, 25).forEach(i -> w.record(rec("r" + i, T0)));
      return null;
    });

    assertEquals(15, w.dropped());
    assertEquals(10, w.buffered());
    sink.failures.set(0);                                               // the database is back
    await(w.flush());
    assertEquals(IntStream.range(0, 10).mapToObj(i -> "r" + i).toList(), sink.stored.stream().flatMap(List::stream).toList());
    assertEquals(10, w.written());
    assertEquals(0, w.buffered());
    await(w.stop());
  }

  @Test void recordsDroppedWhileInsertsFailAndEveryInsertAttemptAreMetered() throws Exception {
    ActorTestKit own = ActorTestKit.create("usage-metrics");              // a registry of its own: exact numbers
    var registry = SluiceMetrics.get(own.system()).registry;
    try {
      sink.failures.set(Integer.MAX_VALUE);
      UsageWriter w = UsageWriter.start(own.system(), sink, new UsageWriterSettings(4, NEVER, 10, FAST_RETRY));
      assertTrue(MetricValues.exists(registry, "sluice_usage_records_dropped_total"), "exported from the start, at 0");
      IntStream.range(0, 25).forEach(i -> w.record(rec("r" + i, T0)));
      assertEquals(15.0, MetricValues.value(registry, "sluice_usage_records_dropped_total"));
      Await.until(Duration.ofSeconds(10), "two failed inserts", () -> sink.inserts.get() >= 2);

      sink.failures.set(0);                                             // the database is back
      await(w.flush());
      await(w.stop());
      w.record(rec("late", T0));
      assertEquals(16.0, MetricValues.value(registry, "sluice_usage_records_dropped_total"), "and one handed in after stop");
      assertEquals(sink.inserts.get(), MetricValues.count(registry, "sluice_usage_write_seconds"),
          "every attempt is timed, the failed ones too");
      assertTrue(sink.inserts.get() >= 2 + 3, "failed attempts, then 3 batches: " + sink.inserts.get());
      assertTrue(MetricValues.sum(registry, "sluice_usage_write_seconds") > 0);
    } finally {
      own.shutdownTestKit();
    }
  }

  @Test void aCleanShutdownOfTheActorSystemWritesEveryRecord() throws Exception {
    ActorTestKit own = ActorTestKit.create("usage-shutdown");
    UsageWriter w = UsageWriter.start(own.system(), sink, new UsageWriterSettings(500, NEVER, 1000, FAST_RETRY));
    IntStream.range(0, 5).forEach(i -> w.record(rec("r" + i, T0.plusSeconds(i))));

    own.shutdownTestKit();                                              // runs CoordinatedShutdown, as SIGTERM does

    assertEquals(List.of("r4", "r3", "r2", "r1", "r0"), storedIds());
  }

  @Test void settingsComeFromReferenceConfAndBadValuesNameTheirKey() {
    var s = UsageWriterSettings.from(ConfigFactory.load());
    assertEquals(new UsageWriterSettings(500, Duration.ofSeconds(1), 100_000, UsageWriterSettings.DEFAULT_RETRY), s);
    var e = assertThrows(ConfigException.class, () -> UsageWriterSettings.from(
        ConfigFactory.parseString("sluice.usage.batch-size = 0").withFallback(ConfigFactory.load())));
    assertTrue(e.getMessage().contains("sluice.usage.batch-size"), e.getMessage());
  }
}
