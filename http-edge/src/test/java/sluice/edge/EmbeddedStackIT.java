package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.errors.UnauthorizedException;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.models.Model;
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
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.core.job.ReplicaPhase;
import sluice.core.service.ServiceStatus;

/**
 * The foundation's end-to-end path: openai-java → edge → sharded ServiceActor → SlurmJobActor → hpc-bridge →
 * agent (child process) → local "Slurm job" running mock-llm → streamed back. Nothing on the path is faked.
 */
@Timeout(180)
class EmbeddedStackIT {
  static Path dir;
  static Gateway gateway;
  static OpenAIClient openai;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-it");
    EmbeddedStack.writeAgentConfig(dir);
    gateway = Gateway.start(EmbeddedStack.config(dir, "sluice.clusters.local.cancel-jobs-on-shutdown = on"));
    openai = OpenAIOkHttpClient.builder().apiKey(EmbeddedStack.API_KEY).baseUrl(gateway.baseUrl() + "/v1")
        .maxRetries(0).build();
    EmbeddedStack.awaitReady(gateway, "mock-llm");
    EmbeddedStack.awaitReady(gateway, "slow");
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
  }

  private static ChatCompletionCreateParams chat(String model, String text, long maxTokens) {
    return ChatCompletionCreateParams.builder().model(ChatModel.of(model)).addUserMessage(text).maxCompletionTokens(maxTokens).build();
  }

  // ---------------------------------------------------------------- the official OpenAI client

  @Test void openaiJavaGetsANonStreamingChatCompletion() {
    ChatCompletion c = openai.chat().completions().create(chat("mock-llm", "Tell me about Slurm", 5));
    assertEquals("mock-llm", c.model());
    assertFalse(c.choices().get(0).message().content().orElseThrow().isBlank());
    assertEquals(5, c.usage().orElseThrow().completionTokens());
    assertEquals(4, c.usage().orElseThrow().promptTokens());
  }

  @Test void openaiJavaStreamsTheSameCompletionChunkByChunk() {
    String whole = openai.chat().completions().create(chat("mock-llm", "stream this please", 6))
        .choices().get(0).message().content().orElseThrow();
    StringBuilder streamed = new StringBuilder();
    int chunks = 0;
    try (StreamResponse<ChatCompletionChunk> s = openai.chat().completions().createStreaming(chat("mock-llm", "stream this please", 6))) {
      for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
        chunks++;
        chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
      }
    }
    assertEquals(whole, streamed.toString(), "deterministic model: same text streamed and not");
    assertEquals(1 + 6 + 1, chunks, "role chunk, six token chunks, final chunk");
  }

  @Test void openaiJavaGetsALegacyCompletion() {
    Completion c = openai.completions().create(CompletionCreateParams.builder()
        .model(CompletionCreateParams.Model.of("mock-llm")).prompt("Once upon a time").maxTokens(3).build());
    assertEquals(3, c.usage().orElseThrow().completionTokens());
    assertFalse(c.choices().get(0).text().isBlank());
  }

  @Test void openaiJavaListsTheModelsWithTheirStatus() {
    List<Model> models = openai.models().list().data();
    assertEquals(List.of("cold", "mock-llm", "slow"), models.stream().map(Model::id).sorted().toList());
    Model mock = models.stream().filter(m -> m.id().equals("mock-llm")).findFirst().orElseThrow();
    assertEquals("ready", mock._additionalProperties().get("status").asString().orElseThrow());
    Model cold = models.stream().filter(m -> m.id().equals("cold")).findFirst().orElseThrow();
    // Scaled to zero: offline, or loading once a request has asked for it (its job never becomes ready).
    assertTrue(List.of("offline", "loading").contains(cold._additionalProperties().get("status").asString().orElseThrow()));
  }

  @Test void anInvalidKeyRaisesTheSdksAuthenticationError() {
    OpenAIClient wrong = OpenAIOkHttpClient.builder().apiKey("sk-wrong-key-000000000").baseUrl(gateway.baseUrl() + "/v1")
        .maxRetries(0).build();
    assertThrows(UnauthorizedException.class, () -> wrong.chat().completions().create(chat("mock-llm", "hi", 1)));
    assertThrows(UnauthorizedException.class, () -> wrong.models().list());
  }

  // ---------------------------------------------------------------- errors as a client sees them

  private static HttpResponse<String> send(String method, String path, String body, Map<String, String> headers) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(60))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    headers.forEach(b::header);
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> post(String path, String body) throws Exception {
    return send("POST", path, body, Map.of("Authorization", "Bearer " + EmbeddedStack.API_KEY, "Content-Type", "application/json"));
  }

  private static JsonNode error(HttpResponse<String> r, int status, String code) throws Exception {
    assertEquals(status, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("content-type").orElse("").startsWith("application/json"));
    JsonNode e = JSON.readTree(r.body()).get("error");
    assertEquals(code, e.get("code").isNull() ? null : e.get("code").asText(), r.body());
    assertTrue(e.has("message") && e.has("type") && e.has("param"), "OpenAI error shape: " + r.body());
    return e;
  }

  @Test void missingOrMalformedCredentialsAre401() throws Exception {
    error(send("POST", "/v1/chat/completions", "{}", Map.of()), 401, "invalid_api_key");
    error(send("POST", "/v1/chat/completions", "{}", Map.of("Authorization", "Basic abc")), 401, "invalid_api_key");
    var r = send("GET", "/v1/models", null, Map.of("Authorization", "Bearer nope"));
    error(r, 401, "invalid_api_key");
    assertFalse(r.body().contains("nope"), "the presented key is never echoed");
  }

  @Test void badRequestsGetPreciseErrors() throws Exception {
    error(post("/v1/chat/completions", "{\"model\": \"gpt-5\", \"messages\": []}"), 404, "model_not_found");
    error(post("/v1/chat/completions", "{not json"), 400, "invalid_json");
    error(post("/v1/chat/completions", "[1,2]"), 400, "invalid_json");
    assertEquals("model", error(post("/v1/chat/completions", "{\"messages\": []}"), 400, "missing_model").get("param").asText());
    error(post("/v1/chat/completions", "{\"model\":\"mock-llm\",\"stream\":\"yes\"}"), 400, "invalid_type");
    error(post("/v1/chat/completions", "{\"model\":\"mock-llm\",\"pad\":\"" + "x".repeat(70_000) + "\"}"), 413, "request_too_large");
    byte[] big = ("{\"model\":\"mock-llm\",\"pad\":\"" + "x".repeat(70_000) + "\"}").getBytes(StandardCharsets.UTF_8);
    var chunked = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
        .POST(HttpRequest.BodyPublishers.ofInputStream(() -> new java.io.ByteArrayInputStream(big))).build(),
        HttpResponse.BodyHandlers.ofString());
    error(chunked, 413, "request_too_large");                 // no Content-Length: the limit applies while reading
    var wrongMethod = send("GET", "/v1/chat/completions", null, Map.of("Authorization", "Bearer " + EmbeddedStack.API_KEY));
    error(wrongMethod, 405, "method_not_allowed");
    assertEquals("POST", wrongMethod.headers().firstValue("allow").orElseThrow());
    error(post("/v1/nothing-here", "{}"), 404, "unknown_url");
  }

  @Test void theModelServersOwnErrorsPassThrough() throws Exception {
    var r = post("/v1/chat/completions", "{\"model\":\"mock-llm\",\"messages\":[]}");
    assertEquals(400, r.statusCode(), "mock-llm refuses empty messages, as vLLM does");
    assertTrue(JSON.readTree(r.body()).has("error"));
  }

  @Test void aCurlStyleRequestWithoutJsonContentTypeWorks() throws Exception {
    var r = send("POST", "/v1/chat/completions", "{\"model\":\"mock-llm\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}",
        Map.of("Authorization", "Bearer " + EmbeddedStack.API_KEY, "Content-Type", "application/x-www-form-urlencoded"));
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(2, JSON.readTree(r.body()).at("/usage/completion_tokens").asInt());
  }

  @Test void requestIdIsKeptOrMade() throws Exception {
    var given = send("POST", "/v1/chat/completions", "{\"model\":\"gpt-5\"}", Map.of("Authorization", "Bearer " + EmbeddedStack.API_KEY,
        "x-request-id", "client-abc-123"));
    assertEquals("client-abc-123", given.headers().firstValue("x-request-id").orElseThrow());
    var made = post("/v1/chat/completions", "{\"model\":\"gpt-5\"}");
    assertTrue(made.headers().firstValue("x-request-id").orElseThrow().length() >= 16);
  }

  @Test void aModelWithNoReadyReplicaIs503WithRetryAfter() throws Exception {
    var r = post("/v1/chat/completions", "{\"model\":\"cold\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    error(r, 503, "model_not_ready");
    assertTrue(Integer.parseInt(r.headers().firstValue("retry-after").orElseThrow()) > 0);
  }

  @Test void aWaitingStreamGetsKeepAlivesThenAnInBandError() throws Exception {
    var r = post("/v1/chat/completions", "{\"model\":\"cold\",\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(200, r.statusCode(), "head committed after sse-commit-after while waiting");
    assertTrue(r.headers().firstValue("content-type").orElseThrow().startsWith("text/event-stream"));
    assertTrue(r.body().startsWith(": keep-alive\n\n"), r.body());
    String last = r.body().substring(r.body().lastIndexOf("data: "));
    assertEquals("model_not_ready", JSON.readTree(last.substring(6)).at("/error/code").asText(), r.body());
  }

  // ---------------------------------------------------------------- streaming behaviour

  @Test void silentStretchesOfAStreamCarryKeepAliveComments() throws Exception {
    var r = post("/v1/chat/completions", "{\"model\":\"slow\",\"stream\":true,\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(200, r.statusCode());
    String body = r.body();
    assertTrue(body.contains("\n\n: keep-alive\n\n"), "comments sit between whole events: " + body);
    assertTrue(body.endsWith("data: [DONE]\n\n"), body);
    List<String> events = List.of(body.split("\n\n")).stream().filter(e -> e.startsWith("data: {")).toList();
    assertEquals(1 + 3 + 1, events.size());
    for (String e : events) JSON.readTree(e.substring(6));        // every event is intact JSON
  }

  @Test void theModelServerRefusesCallersWithoutTheJobsSecret() throws Exception {
    String job = gateway.services().status("mock-llm").toCompletableFuture().get().replicas().get(0).jobId();
    int port = JSON.readTree(dir.resolve("agent/jobs/" + job + "/job.json").toFile()).get("port").asInt();
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve("agent/jobs/" + job + "/job.json"))), "the token's file is private");
    HttpResponse<String> direct = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/models"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, direct.statusCode(), "a caller that bypasses the agent is refused: " + direct.body());
    HttpResponse<String> health = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/health"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, health.statusCode(), "health stays open, as vLLM's does");
  }

  @Test void aClientThatDisconnectsCancelsTheGenerationOnTheJob() throws Exception {
    ServiceStatus slow = gateway.services().status("slow").toCompletableFuture().get();
    String job = slow.replicas().get(0).jobId();
    int abortedBefore = stats(job).get("streams_aborted").asInt();
    HttpRequest req = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"slow\",\"stream\":true,\"prompt\":\"a very long story\"}")).build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String line = reader.readLine();
      while (line != null && !line.startsWith("data: ")) line = reader.readLine();   // keep-alives come first
      assertTrue(line != null, "the stream has started");
    }                                                       // closing mid-stream drops the connection
    JsonNode s = Await.until(Duration.ofSeconds(20), "mock-llm to count the stream as aborted, with none active", () -> stats(job),
        st -> st.get("streams_aborted").asInt() > abortedBefore && st.get("active_streams").asInt() == 0);
    assertEquals(abortedBefore + 1, s.get("streams_aborted").asInt(), "mock-llm stopped generating: " + s);
    ServiceStatus after = EmbeddedStack.awaitStatus(gateway, "slow", st -> st.inFlight() == 0);
    assertEquals(0, after.inFlight(), "the lease was released");
  }

  private static JsonNode stats(String job) throws Exception {
    return EmbeddedStack.stats(gateway, "local", "slow", job);
  }


  // ---------------------------------------------------------------- admin and management

  @Test void adminApiShowsTheLiveActorsAndNeedsTheAdminKey() throws Exception {
    error(send("GET", "/admin/services", null, Map.of("Authorization", "Bearer " + EmbeddedStack.API_KEY)), 401, "invalid_api_key");
    var r = send("GET", "/admin/services/mock-llm", null, Map.of("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY));
    assertEquals(200, r.statusCode(), r.body());
    JsonNode s = JSON.readTree(r.body());
    assertEquals("ready", s.get("availability").asText());
    JsonNode replica = s.get("replicas").get(0);
    assertEquals(ReplicaPhase.READY.name(), replica.get("phase").asText());
    assertEquals("RUNNING", replica.get("slurm_state").asText());
    assertEquals("localhost", replica.get("node").asText());
    assertTrue(replica.get("job_id").asText().matches("\\d+"));
    assertTrue(replica.has("in_flight"));
    var all = JSON.readTree(send("GET", "/admin/services", null, Map.of("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY)).body());
    assertEquals(List.of("cold", "mock-llm", "slow"), java.util.stream.StreamSupport.stream(all.get("services").spliterator(), false)
        .map(n -> n.get("service").asText()).sorted().collect(Collectors.toList()));
    error(send("GET", "/admin/services/nope", null, Map.of("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY)), 404, "service_not_found");
  }

  @Test void managementPortAnswersReadyAndAlive() throws Exception {
    int port = gateway.system().settings().config().getInt("sluice.management.port");
    for (String path : List.of("/ready", "/alive")) {
      var r = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
      assertEquals(200, r.statusCode(), path + ": " + r.body());
    }
  }
}
