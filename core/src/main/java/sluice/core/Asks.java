package sluice.core;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;

/** Helpers for the answers of Pekko asks. */
public final class Asks {
  private Asks() {}

  /**
   * The ask's answer as a plain {@link CompletableFuture}, completed on the thread that answers. The stage Pekko
   * returns wraps a Scala future whose non-async methods run asynchronously on the common pool; with fewer than three
   * cores that pool is a new thread per task, which cost milliseconds per request on the hot path.
   */
  public static <T> CompletableFuture<T> plain(CompletionStage<T> stage) {
    CompletableFuture<T> f = new CompletableFuture<>();
    stage.whenCompleteAsync((v, e) -> {
      if (e != null) f.completeExceptionally(e);
      else f.complete(v);
    }, Runnable::run);
    return f;
  }
}
