package sluice.edge.http;

import java.time.Duration;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.Stages;

/**
 * The API requests in flight, for a graceful shutdown: once it begins no new request is taken, the open ones run on
 * until the shutdown deadline, and the streams still open then end with an in-band SSE error event (recorded as ended
 * by the server) instead of a cut connection. Pekko's own graceful termination would cut a streaming entity as soon
 * as its response head was out.
 */
public final class Drain {
  private static final Logger LOG = LoggerFactory.getLogger(Drain.class);
  /** The event a stream ends with at the deadline. */
  static final ApiError SHUTDOWN = ApiError.of(ApiError.Kind.SHUTTING_DOWN,
      "The gateway is shutting down; this stream ended before the model finished. Please retry.");

  /** The answer to a new request once a shutdown has begun (here and in Pekko's termination response). */
  static final ApiError REFUSED = ApiError.of(ApiError.Kind.SHUTTING_DOWN, "The gateway is shutting down; please retry")
      .withRetryAfter(1);
  /** The event a stream ends with at the deadline (one instance: the stream recognises it by identity). */
  private static final ByteString LAST = OpenAiErrors.sseEvent(SHUTDOWN);

  private final Set<RequestLedger> open = ConcurrentHashMap.newKeySet();
  private final Set<CompletableFuture<Optional<ByteString>>> endings = ConcurrentHashMap.newKeySet();
  private final CompletableFuture<Done> deadline = new CompletableFuture<>();
  private volatile boolean draining;

  /** Whether a shutdown has begun: new requests are refused. */
  boolean draining() { return draining; }

  /** A shutdown begins: from now on new requests are refused (those on open connections get 503 and a close). */
  public void stopTaking() { draining = true; }

  /** SSE streams open now that would get the shutdown event: one per open stream, none left by ended ones. */
  int openStreams() { return endings.size(); }

  /** A request is in flight until its ledger ends it (refused, answered, broken off). */
  void opened(RequestLedger ledger) { open.add(ledger); }

  void closed(RequestLedger ledger) { open.remove(ledger); }

  /**
   * {@code body}, an SSE stream, ended at the shutdown deadline with the shutdown error event (its ledger has been told
   * by then, see {@link #drain}). Each stream registers its own ending and removes it when it ends, so that finished
   * streams leave nothing behind.
   */
  Source<ByteString, NotUsed> endingAtDeadline(Source<ByteString, NotUsed> body) {
    return body
        .mergeMat(Source.<ByteString>maybe(), (m, ending) -> {
          endings.add(ending);
          if (deadline.isDone()) ending.complete(Optional.of(LAST));
          return ending;
        }, true)
        .takeWhile(b -> b != LAST, true)                  // by identity: nothing else is this instance
        .watchTermination((ending, done) -> {
          Stages.whenDone(done, (d, e) -> endings.remove(ending));
          return NotUsed.getInstance();
        });
  }

  /**
   * Stops taking requests, waits for those in flight to end until {@code deadline} minus a margin, then ends the open
   * streams with the shutdown event and marks every request still open as ended by the server. Completes when nothing
   * is open or the margin has passed, within {@code deadline}.
   */
  public CompletionStage<Done> drain(Duration deadline) {
    stopTaking();
    Duration margin = Duration.ofMillis(Math.min(2000, deadline.toMillis() / 4));
    long waitMillis = deadline.minus(margin).toMillis();
    int atStart = Math.max(open.size(), endings.size());
    if (atStart > 0) LOG.info("shutdown: waiting up to {} ms for {} requests in flight", waitMillis, atStart);
    return whenIdle(waitMillis).thenCompose(idle -> {
      if (idle) return CompletableFuture.completedFuture(Done.getInstance());
      LOG.warn("shutdown deadline: ending {} requests still in flight", Math.max(open.size(), endings.size()));
      open.forEach(RequestLedger::endedByServer);
      this.deadline.complete(Done.getInstance());
      endings.forEach(e -> e.complete(Optional.of(LAST)));
      return whenIdle(margin.toMillis() / 2).thenApply(i -> Done.getInstance());
    });
  }

  /** Completes with true as soon as nothing is open, or with false after {@code millis}. */
  private CompletableFuture<Boolean> whenIdle(long millis) {
    long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(millis);
    CompletableFuture<Boolean> result = new CompletableFuture<>();
    poll(until, result);
    return result;
  }

  // Checked every 50 ms: a shutdown happens once, and a counter with waiters would add work to every request.
  private void poll(long until, CompletableFuture<Boolean> result) {
    if (open.isEmpty() && endings.isEmpty()) {
      result.complete(true);
    } else if (System.nanoTime() >= until) {
      result.complete(false);
    } else {
      CompletableFuture.delayedExecutor(50, TimeUnit.MILLISECONDS).execute(() -> poll(until, result));
    }
  }
}
