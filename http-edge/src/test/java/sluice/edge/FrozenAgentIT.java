package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * A frozen agent (SIGSTOP: the process and its pipes stay, nothing is read or answered) must not look healthy. The
 * tunnel is marked unresponsive, requests get a quick 503 instead of hanging, a stream open at the freeze ends with an
 * in-band error, the replica stops taking traffic without being replaced, and after SIGCONT everything serves again
 * without a restart. Short bounds are configured here; the measured times are printed.
 */
@Timeout(240)
class FrozenAgentIT {
  static final Duration PING_TIMEOUT = Duration.ofSeconds(2);
  static final Duration SILENCE = Duration.ofSeconds(8);
  static final Duration FREEZE = Duration.ofSeconds(20);
  /** Sample interval + ping timeout is the design bound (2.5 s here); the rest is slack for a busy machine. */
  static final Duration DEGRADED_WITHIN = Duration.ofSeconds(10);
  static final Duration REFUSED_WITHIN = Duration.ofSeconds(2);

  static Path dir;
  static Gateway gateway;
  static FrozenAgent agent;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-frozen");
    EmbeddedStack.writeAgentConfig(dir);
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.tunnel-sample-interval = 500ms
        sluice.clusters.local { ping-timeout = %d ms, response-silence-timeout = %d ms, cancel-jobs-on-shutdown = on }
        sluice.service-defaults.health-interval = 1s
        """.formatted(PING_TIMEOUT.toMillis(), SILENCE.toMillis())));
    EmbeddedStack.awaitReady(gateway, "mock-llm");
    EmbeddedStack.awaitReady(gateway, "slow");
    agent = FrozenAgent.find();
  }

  @AfterAll static void stop() throws Exception {
    if (agent != null) agent.resume();              // never leave a stopped process behind a failed test
    if (gateway != null) gateway.close();
  }

  record Answer(HttpResponse<String> response, Duration took) {
    JsonNode error() throws Exception { return JSON.readTree(response.body()).path("error"); }
  }

  static HttpRequest chatRequest(String model, boolean stream, int maxTokens) {
    return HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"max_tokens\":"
            + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build();
  }

  static CompletableFuture<Answer> chat() {
    long start = System.nanoTime();
    return http.sendAsync(chatRequest("mock-llm", false, 4), HttpResponse.BodyHandlers.ofString())
        .thenApply(r -> new Answer(r, Duration.ofNanos(System.nanoTime() - start)));
  }

  static JsonNode tunnel() throws Exception {
    var r = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/admin/tunnels"))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body()).path("tunnels").get(0);
  }

  static JsonNode replica(String service) throws Exception {
    var r = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/admin/services/" + service))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body()).path("replicas").get(0);
  }

  static Duration since(long nanos) { return Duration.ofNanos(System.nanoTime() - nanos); }

  /** The SSE data lines of a streaming request, read on their own thread, with the time the first error arrived. */
  static final class StreamWatch {
    final CompletableFuture<String> firstData = new CompletableFuture<>();
    final CompletableFuture<String> error = new CompletableFuture<>();
    final CompletableFuture<Boolean> done = new CompletableFuture<>();   // true when [DONE] was seen
    volatile long errorAt;

    StreamWatch(String model, int maxTokens) {
      http.sendAsync(chatRequest(model, true, maxTokens), HttpResponse.BodyHandlers.ofLines()).thenAcceptAsync(r -> {
        boolean sawDone = false;
        try (Stream<String> lines = r.body()) {
          for (String line : (Iterable<String>) lines::iterator) {
            if (!line.startsWith("data: ")) continue;
            if (line.contains("\"error\"")) {
              errorAt = System.nanoTime();
              error.complete(line);
            } else if (line.equals("data: [DONE]")) {
              sawDone = true;
            } else {
              firstData.complete(line);
            }
          }
        }
        firstData.completeExceptionally(new AssertionError("the stream ended without data: " + r.statusCode()));
        error.completeExceptionally(new AssertionError("the stream ended without an error event"));
        done.complete(sawDone);
      }).exceptionally(e -> {
        firstData.completeExceptionally(e);
        error.completeExceptionally(e);
        done.completeExceptionally(e);
        return null;
      });
    }
  }

  static void assertRefused(Answer a, String when) throws Exception {
    assertEquals(503, a.response().statusCode(), when + ": " + a.response().body());
    assertEquals("tunnel_unresponsive", a.error().path("code").asText(), when + ": " + a.response().body());
    assertEquals("server_error", a.error().path("type").asText(), when);
    assertTrue(a.response().headers().firstValue("retry-after").isPresent(), when + ": Retry-After");
    assertTrue(a.response().headers().firstValue("content-type").orElse("").startsWith("application/json"), when);
  }

  @Test void aFrozenAgentIsMarkedUnresponsiveRefusedQuicklyAndServesAgainAfterItResumes() throws Exception {
    assertEquals(200, chat().get(30, TimeUnit.SECONDS).response().statusCode());
    Await.until(Duration.ofSeconds(10), "a round trip through the tunnel", FrozenAgentIT::tunnel,
        t -> "up".equals(t.path("state").asText()) && t.path("round_trip_millis").isNumber());
    StreamWatch open = new StreamWatch("slow", 200);                     // 700 ms a token: still streaming at the freeze
    open.firstData.get(30, TimeUnit.SECONDS);

    long frozenAt = System.nanoTime();
    agent.stop();
    Duration degraded;
    Duration firstAnswer;
    AtomicLong slowestRefusal = new AtomicLong();
    AtomicLong refusals = new AtomicLong();
    Duration streamError;
    Duration unroutable;
    try {
      CompletableFuture<Answer> atTheFreeze = chat();                     // sent before the gateway can know
      JsonNode t = Await.until(DEGRADED_WITHIN, "the tunnel to be marked unresponsive", FrozenAgentIT::tunnel,
          n -> "unresponsive".equals(n.path("state").asText()));
      degraded = since(frozenAt);
      assertFalse(t.path("round_trip_millis").isNumber(), "no stale round trip: " + t);
      assertTrue(t.path("silent_millis").asLong() >= PING_TIMEOUT.toMillis(), "time since the last answer: " + t);
      assertTrue(t.path("last_answer_at").isTextual(), t.toString());

      Answer first = atTheFreeze.get(DEGRADED_WITHIN.toSeconds(), TimeUnit.SECONDS);
      firstAnswer = first.took();
      assertRefused(first, "the request made at the freeze");

      String event = open.error.get(SILENCE.plusSeconds(2).toMillis(), TimeUnit.MILLISECONDS);
      streamError = Duration.ofNanos(open.errorAt - frozenAt);
      assertTrue(streamError.compareTo(SILENCE.plusSeconds(2)) <= 0, "in-band error after " + streamError);
      JsonNode error = JSON.readTree(event.substring("data: ".length())).path("error");
      assertEquals("tunnel_unresponsive", error.path("code").asText(), event);
      assertFalse(open.done.get(5, TimeUnit.SECONDS), "the stream ends with its error event, without [DONE]");

      JsonNode r = Await.until(DEGRADED_WITHIN, "the replica to stop taking traffic", () -> replica("mock-llm"),
          n -> !n.path("routable").asBoolean());
      unroutable = since(frozenAt);
      assertEquals("READY", r.path("phase").asText(), "still a ready job, not replaced: " + r);
      assertEquals("unreachable", r.path("health").asText(), r.toString());

      // For the rest of the freeze, every request is refused at once.
      Await.until(FREEZE.plusSeconds(10), "the freeze to last " + FREEZE.toSeconds() + " s", () -> {
        Answer a = chat().get(10, TimeUnit.SECONDS);
        assertRefused(a, "a request during the freeze");
        assertTrue(a.took().compareTo(REFUSED_WITHIN) <= 0, "refused after " + a.took());
        slowestRefusal.accumulateAndGet(a.took().toMillis(), Math::max);
        refusals.incrementAndGet();
        return since(frozenAt).compareTo(FREEZE) >= 0;
      });
      assertEquals("unresponsive", tunnel().path("state").asText());
      assertFalse(replica("mock-llm").path("routable").asBoolean());
      assertEquals(0, replica("mock-llm").path("failed_checks").asInt(), "checks that cannot reach it do not count");
    } finally {
      agent.resume();
    }
    long resumedAt = System.nanoTime();
    Await.until(Duration.ofSeconds(10), "the tunnel to be up again", FrozenAgentIT::tunnel,
        n -> "up".equals(n.path("state").asText()) && n.path("round_trip_millis").isNumber());
    Duration upAgain = since(resumedAt);
    Await.until(Duration.ofSeconds(15), "a request to be served again", () -> chat().get(10, TimeUnit.SECONDS)
        .response().statusCode() == 200);
    Duration serving = since(resumedAt);
    StreamWatch after = new StreamWatch("mock-llm", 5);
    assertTrue(after.done.get(30, TimeUnit.SECONDS), "a stream after the freeze runs to [DONE]");
    assertFalse(after.error.isDone() && !after.error.isCompletedExceptionally(), "no error in the stream after the freeze");

    System.out.printf("FrozenAgentIT: freeze -> tunnel unresponsive %d ms; request sent at the freeze answered in %d ms; "
            + "stream error after %d ms; replica unroutable after %d ms; %d refusals during the freeze, slowest %d ms; "
            + "SIGCONT -> tunnel up %d ms, serving %d ms%n", degraded.toMillis(), firstAnswer.toMillis(),
        streamError.toMillis(), unroutable.toMillis(), refusals.get(), slowestRefusal.get(), upAgain.toMillis(),
        serving.toMillis());
  }
}
