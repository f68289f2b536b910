package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.handleExceptions;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static sluice.edge.http.FutureRoutes.onComplete;
import static sluice.edge.http.FutureRoutes.onSuccess;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import scala.concurrent.ExecutionContext;

/**
 * Routes that wait for an answer (an ask, a forward) go on with it on the server's dispatcher, as the Java DSL's
 * directives would, minus their detour through Scala's global pool; failures reach the exception handler unwrapped.
 */
class FutureRoutesTest {
  static ActorSystem<Void> system;
  static ServerBinding binding;
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** Answers a little later, from a thread that is neither the server's nor Scala's: as an actor's reply would. */
  static <T> CompletionStage<T> later(Supplier<T> value) {
    return CompletableFuture.supplyAsync(value, CompletableFuture.delayedExecutor(20, TimeUnit.MILLISECONDS));
  }

  @BeforeAll static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "future-routes-test", ConfigFactory.parseString("""
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.defaultReference()));
    ExceptionHandler causes = ExceptionHandler.newBuilder()
        .match(IllegalStateException.class, e -> complete(StatusCodes.CONFLICT, "failed: " + e.getMessage()))
        .build();
    Route routes = handleExceptions(causes, () -> concat(
        path("later", () -> onSuccess(later(() -> "value"), v -> complete(v + " on " + Thread.currentThread().getName()))),
        path("now", () -> onSuccess(CompletableFuture.completedFuture("ready"), v -> complete(v))),
        path("fails", () -> onSuccess(later(() -> {
          throw new IllegalStateException("no replica");
        }), v -> complete("unreachable"))),
        path("outcome", () -> onComplete(later(() -> {
          throw new CompletionException(new IllegalStateException("gone"));
        }), t -> complete(t.isSuccess() ? "success" : t.failed().get().getClass().getSimpleName() + ": "
            + t.failed().get().getMessage())))));
    binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(routes).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterAll static void stop() {
    system.terminate();
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test void aLaterAnswerGoesOnOnTheServersDispatcherEvenWhileScalasGlobalPoolIsBusy() throws Exception {
    // Every thread of Scala's global pool busy: the Java DSL's onSuccess would wait for one of them to unwrap the answer.
    CountDownLatch release = new CountDownLatch(1);
    int threads = 2 * Runtime.getRuntime().availableProcessors();
    CountDownLatch busy = new CountDownLatch(threads);
    for (int i = 0; i < threads; i++) {
      ExecutionContext.global().execute(() -> {
        busy.countDown();
        try {
          release.await();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      });
    }
    try {
      int parallelism = Runtime.getRuntime().availableProcessors();     // the global pool's threads, by default
      Await.until(Duration.ofSeconds(5), "Scala's global pool busy", () -> busy.getCount() <= threads - parallelism);
      HttpResponse<String> r = get("/later");
      assertEquals(200, r.statusCode(), r.body());
      assertTrue(r.body().startsWith("value on future-routes-test-pekko.actor.default-dispatcher-"), r.body());
    } finally {
      release.countDown();
    }
  }

  @Test void anAnswerAlreadyThereContinuesAtOnce() throws Exception {
    assertEquals("ready", get("/now").body());
  }

  @Test void aFailureReachesTheExceptionHandlerAsItsCause() throws Exception {
    HttpResponse<String> r = get("/fails");
    assertEquals(409, r.statusCode(), r.body());
    assertEquals("failed: no replica", r.body());
    assertEquals("IllegalStateException: gone", get("/outcome").body());
  }
}
