package sluice.core;

import java.util.concurrent.CompletionStage;
import java.util.concurrent.ForkJoinPool;
import java.util.function.BiConsumer;

/**
 * Callbacks on the {@link CompletionStage}s that Pekko returns (a stream's termination, an ask's answer), run on the
 * thread that completes them.
 *
 * <p>Those stages wrap Scala futures, and Scala makes their plain methods ({@code whenComplete}, {@code thenApply}, …)
 * asynchronous on {@link java.util.concurrent.CompletableFuture}'s default executor. With fewer than three cores that executor is not the
 * common pool but a new thread per task: the bench's 10,000 slow streams started 23,629 threads in the gateway, one per
 * {@code watchTermination} callback (JFR, {@code jdk.ThreadStart}). Every callback on such a stage goes through here;
 * each one is short and must not block.
 */
public final class Stages {
  private Stages() {}

  /** Runs {@code action} when {@code stage} completes, on the completing thread (or at once, if it already has). */
  public static <T> void whenDone(CompletionStage<T> stage, BiConsumer<? super T, ? super Throwable> action) {
    stage.whenCompleteAsync(action, Runnable::run);
  }

  /**
   * Gives the JDK's common pool at least two threads unless the command line chose its size: below two,
   * {@link java.util.concurrent.CompletableFuture} runs every async task without an executor on a thread of its own.
   * A library's callback that {@link #whenDone} does not cover then runs on a pool thread instead. Effective only
   * before the common pool is first used, so the gateway calls it first thing in {@code main}.
   *
   * @return the common pool's parallelism now
   */
  public static int atLeastTwoCommonPoolThreads() {
    String property = "java.util.concurrent.ForkJoinPool.common.parallelism";
    if (System.getProperty(property) == null && Runtime.getRuntime().availableProcessors() < 3) {
      System.setProperty(property, "2");
    }
    return ForkJoinPool.getCommonPoolParallelism();
  }
}
