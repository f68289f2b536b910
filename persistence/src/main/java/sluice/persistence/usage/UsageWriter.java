package sluice.persistence.usage;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Histogram;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.QueueOfferResult;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.policy.Backoff;

/**
 * Writes usage records in batches off the request path: a bounded queue, grouped by size or time, one insert at a
 * time on the blocking dispatcher. A failed batch is retried (with backoff) until it is written, so batches land in
 * order and none twice; meanwhile records wait in memory up to {@code max-buffered}, and beyond that new ones are
 * dropped and counted (ERROR log). Stopped in CoordinatedShutdown's {@code service-stop} phase, after the HTTP server
 * has drained its requests, so a clean shutdown writes every record; a crash loses at most what is still buffered.
 * Metrics: every dropped record counts in {@code sluice_usage_records_dropped_total}, and every insert attempt (the
 * failed ones too) is timed in {@code sluice_usage_write_seconds}.
 */
public final class UsageWriter {
  private static final Logger LOG = LoggerFactory.getLogger(UsageWriter.class);
  private static final int FLUSH_ROOM = 1024;                           // queue places for flush markers beyond max-buffered

  private sealed interface Item {}

  private record Rec(UsageRecord record) implements Item {}

  /** Completed once every item queued before it is written. */
  private record Marker(CompletableFuture<Done> done) implements Item {}

  private final UsageSink sink;
  private final UsageWriterSettings settings;
  private final Executor blocking;
  private final BoundedSourceQueue<Item> queue;
  private final CompletionStage<Done> terminated;
  private final AtomicInteger pending = new AtomicInteger();           // accepted, not yet written
  private final AtomicLong written = new AtomicLong();
  private final AtomicLong dropped = new AtomicLong();
  private final AtomicLong droppedUnreported = new AtomicLong();
  private final Counter droppedMetric;
  private final Histogram writeTime;
  private final AtomicBoolean stopping = new AtomicBoolean();
  private final Set<CompletableFuture<Done>> flushes = ConcurrentHashMap.newKeySet();
  private volatile boolean abandoned;                                   // the actor system is gone: stop retrying
  private volatile Consumer<Exception> onFailure = e -> {};

  private UsageWriter(ActorSystem<?> system, UsageSink sink, UsageWriterSettings settings, Executor blocking,
                      ExecutorService ownExecutor) {
    this.sink = sink;
    this.settings = settings;
    this.blocking = blocking;
    SluiceMetrics metrics = SluiceMetrics.get(system);
    this.droppedMetric = metrics.usageRecordsDropped;
    this.writeTime = metrics.usageWrite;
    // A marker ends its substream, which makes groupedWithin emit the open batch at once instead of at the interval;
    // concatSubstreams keeps the batches in order.
    Pair<BoundedSourceQueue<Item>, CompletionStage<Done>> m = Source.<Item>queue(settings.maxBuffered() + FLUSH_ROOM)
        .splitAfter(item -> item instanceof Marker)
        .groupedWithin(settings.batchSize(), settings.flushInterval())
        .concatSubstreams()
        .mapAsync(1, this::write)
        .toMat(Sink.ignore(), Keep.both())
        .run(system);
    this.queue = m.first();
    this.terminated = m.second().whenCompleteAsync((d, err) -> {
      if (err != null) {
        LOG.error("usage writer stopped with {} usage records not written: {}", pending.get(), err.toString());
      }
      reportDrops();
      var stopped = new IllegalStateException("the usage writer stopped before these records were written");
      flushes.forEach(f -> f.completeExceptionally(stopped));
      sink.close();
      if (ownExecutor != null) ownExecutor.shutdown();
    }, Runnable::run);
    system.getWhenTerminated().thenRun(() -> abandoned = true);
  }

  /**
   * Starts the writer, its inserts running on {@code blocking} (the gateway's dispatcher for blocking work), and
   * registers {@link #stop()} in CoordinatedShutdown's {@code service-stop} phase.
   */
  public static UsageWriter start(ActorSystem<?> system, UsageSink sink, UsageWriterSettings settings, Executor blocking) {
    return start(system, sink, settings, blocking, null);
  }

  /** As {@link #start(ActorSystem, UsageSink, UsageWriterSettings, Executor)}, on a thread of its own (tests, tools). */
  public static UsageWriter start(ActorSystem<?> system, UsageSink sink, UsageWriterSettings settings) {
    ExecutorService own = Executors.newSingleThreadExecutor(r -> {
      Thread t = new Thread(r, "sluice-usage-writer");
      t.setDaemon(true);
      return t;
    });
    return start(system, sink, settings, own, own);
  }

  private static UsageWriter start(ActorSystem<?> system, UsageSink sink, UsageWriterSettings settings, Executor blocking,
                                   ExecutorService own) {
    UsageWriter writer = new UsageWriter(system, sink, settings, blocking, own);
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceStop(), "usage-writer", writer::stop);
    return writer;
  }

  /** Hands a record over for writing. Never blocks and never throws; drops (and counts) it when the buffer is full. */
  public void record(UsageRecord r) {
    try {
      if (r == null) {
        LOG.warn("ignoring a null usage record");
        return;
      }
      if (pending.getAndUpdate(n -> n < settings.maxBuffered() ? n + 1 : n) >= settings.maxBuffered()) {
        drop();
        return;
      }
      QueueOfferResult res = queue.offer(new Rec(r));
      if (!res.isEnqueued()) {
        pending.decrementAndGet();
        drop();
      }
    } catch (RuntimeException e) {
      LOG.error("could not hand over a usage record: {}", e.toString());
      dropped.incrementAndGet();
      droppedMetric.inc();
    }
  }

  private void drop() {
    dropped.incrementAndGet();
    droppedMetric.inc();
    if (droppedUnreported.getAndIncrement() == 0) {
      if (stopping.get() || queue.isCompleted()) {
        LOG.error("usage writer is stopped: dropping usage records that arrive after shutdown began");
      } else {
        LOG.error("usage buffer full ({} records waiting, sluice.usage.max-buffered = {}): dropping usage records until "
            + "the database accepts writes again", pending.get(), settings.maxBuffered());
      }
    }
  }

  private void reportDrops() {
    long n = droppedUnreported.getAndSet(0);
    if (n > 0) LOG.error("dropped {} usage records ({} since start)", n, dropped.get());
  }

  /**
   * Completes when every record handed in before this call is in the database, at once rather than at the next
   * flush interval. Fails only when the writer stops without having written them.
   */
  public CompletionStage<Done> flush() {
    if (stopping.get()) return terminated;
    var done = new CompletableFuture<Done>();
    flushes.add(done);
    QueueOfferResult res = queue.offer(new Marker(done));
    if (res.isEnqueued()) return done.whenComplete((d, e) -> flushes.remove(done));
    flushes.remove(done);
    if (queue.isCompleted() || stopping.get()) return terminated;
    return CompletableFuture.failedFuture(new IllegalStateException("usage writer: too many flushes waiting"));
  }

  /** Writes everything buffered, then closes the sink; records handed in afterwards are dropped and counted. */
  public CompletionStage<Done> stop() {
    if (stopping.compareAndSet(false, true)) queue.complete();
    return terminated;
  }

  /** Tells {@code listener} of every failed insert (e.g. {@link sluice.persistence.StorageHealth#failed}). */
  public void reportFailuresTo(Consumer<Exception> listener) { this.onFailure = listener; }

  /** Records written since start. */
  public long written() { return written.get(); }

  /** Records dropped since start (buffer full, or handed in after stop). */
  public long dropped() { return dropped.get(); }

  /** Records accepted and not yet written. */
  public int buffered() { return pending.get(); }

  private CompletionStage<Done> write(List<Item> group) {
    List<UsageRecord> batch = new ArrayList<>(group.size());
    List<CompletableFuture<Done>> markers = new ArrayList<>(1);
    for (Item i : group) {
      if (i instanceof Rec r) batch.add(r.record()); else markers.add(((Marker) i).done());
    }
    CompletableFuture<Done> stored = new CompletableFuture<>();
    if (batch.isEmpty()) stored.complete(Done.getInstance()); else attempt(batch, 0, stored);
    return stored.thenApply(d -> {
      written.addAndGet(batch.size());
      pending.addAndGet(-batch.size());
      reportDrops();
      markers.forEach(f -> f.complete(Done.getInstance()));
      return d;
    });
  }

  /** Tries the batch until it is stored; only the actor system's termination ends the retries. */
  private void attempt(List<UsageRecord> batch, int failures, CompletableFuture<Done> result) {
    Backoff backoff = settings.retry();
    Duration wait = backoff.after(failures);
    Executor exec = failures == 0 ? blocking : CompletableFuture.delayedExecutor(wait.toMillis(), TimeUnit.MILLISECONDS, blocking);
    try {
      exec.execute(() -> {
        long start = System.nanoTime();
        try {
          sink.insert(batch);
          writeTime.observe((System.nanoTime() - start) / 1e9);
          if (failures > 0) LOG.info("wrote {} usage records after {} failed attempts", batch.size(), failures);
          result.complete(Done.getInstance());
        } catch (Exception e) {
          writeTime.observe((System.nanoTime() - start) / 1e9);
          if (abandoned) {
            result.completeExceptionally(e);
            return;
          }
          onFailure.accept(e);
          LOG.warn("could not write {} usage records (attempt {}), retrying in {} ms: {}",
              batch.size(), failures + 1, backoff.after(failures + 1).toMillis(), e.toString());
          attempt(batch, failures + 1, result);
        }
      });
    } catch (RejectedExecutionException e) {
      result.completeExceptionally(e);
    }
  }
}
