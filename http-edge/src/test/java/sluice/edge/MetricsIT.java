package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * What an operator sees of real traffic: a gateway process as an operator runs it ({@code sluice serve}, with
 * {@code sluice.log.format = json}) takes successes, a 429, a 503, a 404 and a stream its client abandons; its
 * {@code /metrics} on the management port must have moved by exactly that, and its request log must hold one line per
 * request with the request's fields and nothing secret. The request id goes on to the agent's log and to the model
 * server (mock-llm logs it the way vLLM does).
 */
@Timeout(240)
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class MetricsIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  private static final String CHAT = "/v1/chat/completions";
  private static final String PROMPT = "a prompt that must never reach a log line";
  private static final String WRONG_KEY = "sk-nobody-issued-this-0123456789abcdef";

  private Path dir;
  private int mgmtPort;
  private GatewayProcess gateway;
  private String limitedSecret;
  /** Every request this test sent to /v1, by its x-request-id. */
  private final List<String> sent = new ArrayList<>();

  @BeforeAll void start() throws Exception {
    dir = Files.createTempDirectory("sluice-metrics");
    EmbeddedStack.writeAgentConfig(dir, Map.of(
        "slow", EmbeddedStack.service(EmbeddedStack.mockLlm(), "--token-delay-ms 50 --tokens 400", "15"),
        // Loads for ten minutes: a request waits its queue's 1 s and gets 503.
        "sleepy", EmbeddedStack.service(EmbeddedStack.mockLlm(), "--startup-delay-ms 600000", "15"),
        "mock-llm", EmbeddedStack.service(EmbeddedStack.mockLlm(), "--log-requests on", "15")));
    int port = EmbeddedStack.freePort();
    mgmtPort = EmbeddedStack.freePort();
    Path conf = CrashDrill.writeConfig(dir, """
        sluice {
          data-dir = "%s"
          log.format = json
          http { port = %d, sse-keep-alive = 300ms, sse-commit-after = 5s }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms, cancel-jobs-on-shutdown = on }
          services {
            mock-llm { cluster = local, max-inflight-per-replica = 8 }
            slow { cluster = local }
            sleepy { cluster = local, max-queue-wait = 1s }
          }
        }
        """.formatted(dir.resolve("data"), port, mgmtPort, EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY, dir.resolve("agent.json")));
    gateway = new GatewayProcess(conf, dir.resolve("gateway.log"), port);
    gateway.start("mock-llm", Duration.ofSeconds(90));
    gateway.awaitReady("slow", Duration.ofSeconds(60));
  }

  @AfterAll void stop() throws Exception {
    if (gateway != null) gateway.close();
  }

  @Test @Order(1) void theMetricsMoveByExactlyWhatWasSent() throws Exception {
    String user = "metrics" + System.nanoTime() % 1_000_000;
    admin("POST", "/admin/users", "{\"id\":\"" + user + "\",\"limits\":{\"requests\":{\"minute\":1}}}", 201);
    limitedSecret = admin("POST", "/admin/users/" + user + "/keys", "{\"name\":\"k\"}", 201).get("key").asText();
    Map<String, Double> before = scrape();

    // Three successes on mock-llm: two plain, one streamed (16 tokens each)
    long completion = 0;
    for (int i = 0; i < 2; i++) completion += JSON.readTree(post(EmbeddedStack.API_KEY, "mock-llm", false, 200)).at("/usage/completion_tokens").asLong();
    String stream = post(EmbeddedStack.API_KEY, "mock-llm", true, 200);
    long contentEvents = stream.lines().filter(l -> l.contains("\"content\":\"") && !l.contains("\"content\":\"\"")).count();
    completion += 16;
    assertTrue(contentEvents >= 2, "the stream carried tokens: " + stream);
    // The limited user: one success, one 429 (requests per minute)
    post(limitedSecret, "mock-llm", false, 200);
    completion += 16;
    post(limitedSecret, "mock-llm", false, 429);
    // A model still loading: the queue's 1 s passes, 503
    post(EmbeddedStack.API_KEY, "sleepy", false, 503);
    // A model nobody configured: 404, counted under model "-"
    post(EmbeddedStack.API_KEY, "no-such-model", false, 404);
    // A key nobody issued: 401, counted (and logged) under model "-" although the body names one
    post(WRONG_KEY, "mock-llm", false, 401);
    // A stream whose client leaves after the first tokens
    abandonStream();

    Map<String, Double> after = Await.until(Duration.ofSeconds(30), "the abandoned stream to be counted",
        this::scrape, m -> value(m, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"slow\",outcome=\"client_disconnected\",status=\"200\"}") >= 1);
    String okChat = "{endpoint=\"/v1/chat/completions\",model=\"mock-llm\",outcome=\"ok\",status=\"200\"}";
    assertEquals(4, delta(before, after, "sluice_requests_total" + okChat), "4 answered");
    assertEquals(1, delta(before, after, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"mock-llm\",outcome=\"rate_limit_exceeded\",status=\"429\"}"));
    assertEquals(1, delta(before, after, "sluice_ratelimit_refusals_total{kind=\"requests\",model=\"mock-llm\"}"));
    assertEquals(1, delta(before, after, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"sleepy\",outcome=\"model_not_ready\",status=\"503\"}"));
    assertEquals(1, delta(before, after, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"-\",outcome=\"model_not_found\",status=\"404\"}"));
    assertEquals(1, delta(before, after, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"-\",outcome=\"invalid_api_key\",status=\"401\"}"),
        "a refused key is counted like any refusal");
    assertEquals(1, delta(before, after, "sluice_requests_total{endpoint=\"/v1/chat/completions\",model=\"slow\",outcome=\"client_disconnected\",status=\"200\"}"));
    assertEquals(5, delta(before, after, "sluice_request_duration_seconds_count{endpoint=\"/v1/chat/completions\",model=\"mock-llm\"}"),
        "every finished mock-llm request is timed, the 429 too");
    assertEquals(4, delta(before, after, "sluice_time_to_first_token_seconds_count{model=\"mock-llm\"}"), "a first token for each answer");
    assertEquals(contentEvents - 1, delta(before, after, "sluice_inter_token_seconds_count{model=\"mock-llm\"}"),
        "one gap between each two token events of the stream");
    assertEquals(completion, delta(before, after, "sluice_tokens_total{model=\"mock-llm\",type=\"completion\"}"));
    assertTrue(delta(before, after, "sluice_tokens_total{model=\"mock-llm\",type=\"prompt\"}") > 0);
    assertEquals(0, value(after, "sluice_inflight_requests{model=\"mock-llm\"}"));
    assertEquals(0, value(after, "sluice_inflight_requests{model=\"slow\"}"), "the abandoned stream no longer counts");
    assertTrue(value(after, "sluice_time_to_first_token_seconds_bucket{le=\"+Inf\",model=\"mock-llm\"}")
        >= value(after, "sluice_time_to_first_token_seconds_bucket{le=\"1.0\",model=\"mock-llm\"}"));
    assertTrue(after.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics beside ours");
    assertFalse(after.keySet().stream().anyMatch(k -> k.contains(user)), "no user id in a label (user-label is off)");
  }

  @Test @Order(2) void theRequestLogHasOneLinePerRequestWithItsFieldsAndNoSecret() throws Exception {
    String log = Files.readString(gateway.log());
    List<JsonNode> lines = new ArrayList<>();
    for (String line : log.split("\n")) {
      if (line.startsWith("{") && line.contains("\"logger\":\"sluice.request\"")) lines.add(JSON.readTree(line));
    }
    for (String id : sent) {
      List<JsonNode> mine = lines.stream().filter(l -> l.path("request_id").asText().equals(id)).toList();
      assertEquals(1, mine.size(), "one line for request " + id + " in\n" + gateway.logTail(40));
      JsonNode l = mine.get(0);
      for (String field : List.of("user", "key_id", "model", "endpoint", "status", "outcome", "job", "node", "ttft_ms",
          "duration_ms", "prompt_tokens", "completion_tokens", "client_disconnected")) {
        assertTrue(l.has(field), field + " in " + l);
      }
    }
    JsonNode abandoned = lines.stream().filter(l -> l.path("model").asText().equals("slow")).findFirst().orElseThrow();
    assertTrue(abandoned.path("client_disconnected").asBoolean(), abandoned.toString());
    assertFalse(abandoned.path("job").isNull(), "the job that answered: " + abandoned);
    JsonNode refused = lines.stream().filter(l -> l.path("status").asInt() == 429).findFirst().orElseThrow();
    assertEquals("rate_limit_exceeded", refused.path("outcome").asText());
    // Other log lines are JSON too (logback's encoder), so a shipper reads the whole file.
    assertTrue(Stream.of(log.split("\n")).filter(l -> l.startsWith("{")).count() > lines.size());
    JsonNode unauthenticated = lines.stream().filter(l -> l.path("status").asInt() == 401).findFirst().orElseThrow();
    assertEquals("invalid_api_key", unauthenticated.path("outcome").asText());
    assertEquals("-", unauthenticated.path("user").asText(), "nobody is known to have sent it: " + unauthenticated);
    for (String secret : List.of(EmbeddedStack.API_KEY, limitedSecret, EmbeddedStack.ADMIN_KEY, WRONG_KEY, PROMPT, "Bearer")) {
      assertFalse(log.contains(secret), "the gateway's log holds no '" + secret + "'");
    }
  }

  @Test @Order(3) void theRequestIdReachesTheAgentsLogAndTheModelServer() throws Exception {
    String id = "trace-" + System.nanoTime();
    HttpResponse<String> r = HTTP.send(chat(EmbeddedStack.API_KEY, "mock-llm", false).header("x-request-id", id).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    Path agentLog = dir.resolve("agent/agent.log");
    String forward = Await.until(Duration.ofSeconds(10), "the agent's line for " + id, () -> lineWith(agentLog, id), l -> l != null);
    assertTrue(forward.contains("forward " + id + " mock-llm job ") && forward.contains("-> 200"), forward);
    // mock-llm (--log-requests on) writes the X-Request-Id it received to the job's output, as vLLM logs it.
    String served = Await.until(Duration.ofSeconds(10), "the model server's line for " + id, () -> {
      try (Stream<Path> files = Files.walk(dir.resolve("agent/jobs"))) {
        for (Path f : files.filter(Files::isRegularFile).toList()) {
          String l = lineWith(f, "request " + id + " POST " + CHAT);
          if (l != null) return l;
        }
      }
      return null;
    }, l -> l != null);
    assertNotNull(served);
  }

  // ---------------------------------------------------------------- helpers

  private static String lineWith(Path file, String text) throws Exception {
    if (!Files.isRegularFile(file)) return null;
    return Files.readAllLines(file, StandardCharsets.UTF_8).stream().filter(l -> l.contains(text)).findFirst().orElse(null);
  }

  private HttpRequest.Builder chat(String key, String model, boolean stream) {
    String body = "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"messages\":[{\"role\":\"user\",\"content\":\""
        + PROMPT + "\"}]}";
    return HttpRequest.newBuilder(URI.create(gateway.baseUrl() + CHAT)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body));
  }

  /** Sends one chat request with its own x-request-id and checks the status; returns the body. */
  private String post(String key, String model, boolean stream, int expected) throws Exception {
    String id = "metrics-it-" + sent.size();
    sent.add(id);
    HttpResponse<String> r = HTTP.send(chat(key, model, stream).header("x-request-id", id).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), model + ": " + r.body());
    return r.body();
  }

  /** Reads a slow stream until its first token, then closes the connection. */
  private void abandonStream() throws Exception {
    String id = "metrics-it-" + sent.size();
    sent.add(id);
    HttpResponse<InputStream> r = HTTP.send(chat(EmbeddedStack.API_KEY, "slow", true).header("x-request-id", id).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    try (InputStream in = r.body(); BufferedReader reader = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      for (String line; (line = reader.readLine()) != null; ) {
        if (line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) break;
      }
    }
  }

  private JsonNode admin(String method, String path, String body, int expected) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).header("Content-Type", "application/json")
        .method(method, HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), method + " " + path + ": " + r.body());
    return JSON.readTree(r.body());
  }

  private Map<String, Double> scrape() throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + mgmtPort + "/metrics"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("text/plain; version=0.0.4"));
    return Exposition.parse(r.body());
  }

  private static double value(Map<String, Double> m, String series) { return m.getOrDefault(series, 0.0); }

  private static long delta(Map<String, Double> before, Map<String, Double> after, String series) {
    return Math.round(value(after, series) - value(before, series));
  }
}
