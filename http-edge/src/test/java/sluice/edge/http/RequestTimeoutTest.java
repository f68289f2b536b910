package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.onSuccess;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** A request that outlives pekko-http's request-timeout is answered with OpenAI JSON, not Pekko's text. */
class RequestTimeoutTest {
  static ActorSystem<Void> system;
  static ServerBinding binding;
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "timeout-test", ConfigFactory.parseString("""
        pekko.http.server.request-timeout = 300ms
        pekko.loglevel = WARNING
        """).withFallback(ConfigFactory.defaultReference()));
    CompletableFuture<String> never = new CompletableFuture<>();
    binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(EdgeDirectives.jsonTimeouts(() -> concat(
        path("never", () -> onSuccess(never, v -> complete(v))),
        path("quick", () -> complete("done"))))).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterAll static void stop() {
    system.terminate();
  }

  private static HttpResponse<String> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Test void aRequestThatOutlivesTheRequestTimeoutGetsTheTimeoutError() throws Exception {
    long start = System.nanoTime();
    HttpResponse<String> r = get("/never");
    long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals(504, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"), r.headers().toString());
    JsonNode error = OpenAiJson.MAPPER.readTree(r.body()).get("error");
    assertEquals("timeout", error.get("code").asText());
    assertEquals("server_error", error.get("type").asText());
    assertTrue(millis >= 300 && millis < 5_000, "answered after " + millis + " ms");
    assertEquals("done", get("/quick").body());
  }
}
