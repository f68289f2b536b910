package sluice.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;

/** Asking again on a timeout: what a request does while the actor it asks moves from a dead node to a live one. */
class AsksTest {
  private final List<Duration> attempts = new ArrayList<>();

  @Test void anAskThatTimesOutIsRepeatedUntilItIsAnswered() throws Exception {
    CompletableFuture<String> answer = Asks.retryingOnTimeout(timeout -> {
      attempts.add(timeout);
      return attempts.size() < 3 ? CompletableFuture.failedFuture(new TimeoutException("lost on a dead node"))
          : CompletableFuture.completedFuture("granted");
    }, Duration.ofSeconds(5), Duration.ofSeconds(30));
    assertEquals("granted", answer.get());
    assertEquals(3, attempts.size());
    assertEquals(Duration.ofSeconds(5), attempts.get(0));
  }

  @Test void anyOtherFailureIsNotRepeated() {
    CompletableFuture<String> answer = Asks.retryingOnTimeout(timeout -> {
      attempts.add(timeout);
      return CompletableFuture.failedFuture(new IllegalStateException("refused"));
    }, Duration.ofSeconds(5), Duration.ofSeconds(30));
    ExecutionException e = assertThrows(ExecutionException.class, answer::get);
    assertInstanceOf(IllegalStateException.class, e.getCause());
    assertEquals(1, attempts.size());
  }

  @Test void theLastTimeoutIsTheCallersOnceTheTotalHasPassed() {
    CompletableFuture<String> answer = Asks.retryingOnTimeout(timeout -> {
      attempts.add(timeout);
      CompletableFuture<String> f = new CompletableFuture<>();
      return f.completeOnTimeout(null, timeout.toMillis(), java.util.concurrent.TimeUnit.MILLISECONDS)
          .thenCompose(v -> CompletableFuture.<String>failedFuture(new TimeoutException("no answer in " + timeout)));
    }, Duration.ofMillis(40), Duration.ofMillis(100));
    ExecutionException e = assertThrows(ExecutionException.class, answer::get);
    assertInstanceOf(TimeoutException.class, e.getCause());
    assertTrue(attempts.size() >= 2 && attempts.size() <= 4, "attempts " + attempts);
    assertTrue(attempts.stream().allMatch(d -> d.toMillis() <= 40), "no attempt waits longer than one attempt: " + attempts);
  }
}
