package sluice.core;

import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;

/** Helpers for the answers of Pekko asks. */
public final class Asks {
  private Asks() {}

  /** The ask's answer as a plain {@link CompletableFuture}, completed on the thread that answers ({@link Stages}). */
  public static <T> CompletableFuture<T> plain(CompletionStage<T> stage) {
    CompletableFuture<T> f = new CompletableFuture<>();
    Stages.whenDone(stage, (v, e) -> {
      if (e != null) f.completeExceptionally(e);
      else f.complete(v);
    });
    return f;
  }

  /**
   * Asks, and asks again each time an attempt times out, until {@code total} has passed: an ask sent to a sharded actor
   * whose node has just died is lost until the cluster has downed that node and started the actor elsewhere (the
   * failure detector plus the resolver's stable-after), and only a repeated ask reaches the new one. Only for commands
   * the actor answers idempotently (a repeated Admit or Acquire with the same id is answered, not counted again).
   *
   * @param ask     sends one attempt with the given timeout (never more than what is left of {@code total})
   * @param attempt the timeout of one attempt
   */
  public static <T> CompletableFuture<T> retryingOnTimeout(Function<Duration, CompletionStage<T>> ask, Duration attempt,
                                                          Duration total) {
    return retry(ask, attempt, System.nanoTime() + total.toNanos());
  }

  private static <T> CompletableFuture<T> retry(Function<Duration, CompletionStage<T>> ask, Duration attempt, long deadline) {
    long left = deadline - System.nanoTime();
    Duration timeout = Duration.ofNanos(Math.max(1_000_000, Math.min(left, attempt.toNanos())));
    return plain(ask.apply(timeout)).handle((v, e) -> {
      if (e == null) return CompletableFuture.completedFuture(v);
      Throwable cause = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
      if (cause instanceof TimeoutException && deadline - System.nanoTime() > 0) return retry(ask, attempt, deadline);
      return CompletableFuture.<T>failedFuture(cause);
    }).thenCompose(Function.identity());
  }
}
