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
import com.openai.errors.PermissionDeniedException;
import com.openai.errors.RateLimitException;
import com.openai.errors.UnauthorizedException;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.openai.models.chat.completions.ChatCompletionStreamOptions;
import com.openai.models.completions.Completion;
import com.openai.models.completions.CompletionCreateParams;
import com.openai.models.embeddings.CreateEmbeddingResponse;
import com.openai.models.embeddings.EmbeddingCreateParams;
import com.openai.models.models.Model;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.edge.auth.Jwts;

/**
 * Users, keys, limits and usage end to end: keys made through the admin API and used with the official openai-java
 * client against the embedded stack (agent child process, local scheduler, mock-llm jobs, H2); the usage records are
 * compared with what mock-llm reports.
 */
@Timeout(240)
class AccountsIT {
  static Path dir;
  static Gateway gateway;
  static Jwts idp;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  static final AtomicInteger users = new AtomicInteger();

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-accounts");
    EmbeddedStack.writeAgentConfig(dir);
    idp = Jwts.start("https://idp.test/realms/hpc");
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.auth.oidc.issuers = [%s]
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        sluice.services.slow.max-inflight-per-replica = 32
        sluice.users.groups = [{ name = "students", limits { requests { minute = 1000 }, concurrent = 3 } }]
        sluice.usage.flush-interval = 200ms
        sluice.http.completion-timeout = 5s
        """.formatted(idp.issuerConfig())));
    EmbeddedStack.awaitReady(gateway, "mock-llm");
    EmbeddedStack.awaitReady(gateway, "slow");
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
    if (idp != null) idp.close();
  }

  // ---------------------------------------------------------------- helpers

  static HttpResponse<String> admin(String method, String path, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode adminOk(String method, String path, String body, int status) throws Exception {
    var r = admin(method, path, body);
    assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
    return JSON.readTree(r.body());
  }

  /** A new user (unique per call) with the given limits JSON. */
  static String newUser(String limits) throws Exception {
    String id = "user-" + users.incrementAndGet() + "-" + System.nanoTime() % 100_000;
    adminOk("POST", "/admin/users", "{\"id\":\"" + id + "\",\"limits\":" + limits + "}", 201);
    return id;
  }

  /** A new key of {@code user}; {@code extra} adds fields such as "models" or "expires_at". */
  static JsonNode newKey(String user, String extra) throws Exception {
    return adminOk("POST", "/admin/users/" + user + "/keys", "{\"name\":\"test key\"" + extra + "}", 201);
  }

  static OpenAIClient client(String key) {
    return OpenAIOkHttpClient.builder().apiKey(key).baseUrl(gateway.baseUrl() + "/v1").maxRetries(0).build();
  }

  static HttpResponse<String> post(String key, String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + key).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static String chatBody(String model, String text, int maxTokens, boolean stream, String streamOptions) {
    return "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens + (stream ? ",\"stream\":true" : "")
        + (streamOptions == null ? "" : ",\"stream_options\":" + streamOptions)
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"" + text + "\"}]}";
  }

  static ChatCompletionCreateParams chat(String model, String text, long maxTokens) {
    return ChatCompletionCreateParams.builder().model(ChatModel.of(model)).addUserMessage(text).maxCompletionTokens(maxTokens).build();
  }

  /** The user's usage records, newest first (the admin endpoint flushes the writer first). */
  static JsonNode usage(String user) throws Exception {
    return adminOk("GET", "/admin/usage?user=" + URLEncoder.encode(user, StandardCharsets.UTF_8), null, 200);
  }

  /**
   * The user's usage once it holds at least {@code requests} records. A record is made when the response body has
   * ended on the gateway's side, which may be just after the client has read all of it: wait for it, not read once.
   */
  static JsonNode usage(String user, int requests) throws Exception {
    return Await.until(Duration.ofSeconds(15), requests + " usage records of " + user, () -> usage(user),
        u -> u.at("/totals/requests").asInt() >= requests);
  }

  static int words(String text) { return text.trim().split("\\s+").length; }

  /** Waits until the current minute has at least {@code seconds} left, so a per-minute window does not roll over mid-test. */
  static void awayFromMinuteEdge(int seconds) throws InterruptedException {
    long intoMinute = Instant.now().getEpochSecond() % 60;
    // A fixed wait for wall-clock time, not for a state: the limits' minute windows follow the gateway's real clock.
    if (60 - intoMinute < seconds) Thread.sleep((60 - intoMinute + 1) * 1000);
  }

  // ---------------------------------------------------------------- keys with the official client

  @Test void anAdminMadeKeyServesEveryEndpointThroughTheOfficialClient() throws Exception {
    String user = newUser("{}");
    JsonNode key = newKey(user, "");
    assertTrue(key.get("key").asText().startsWith("sk-sluice-"));
    assertTrue(key.get("id").asText().startsWith("key_"));
    OpenAIClient openai = client(key.get("key").asText());

    ChatCompletion c = openai.chat().completions().create(chat("mock-llm", "Hello there", 5));
    assertEquals(5, c.usage().orElseThrow().completionTokens());

    StringBuilder streamed = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> s = openai.chat().completions().createStreaming(chat("mock-llm", "Hello there", 5))) {
      s.stream().forEach(ch -> ch.choices().forEach(x -> x.delta().content().ifPresent(streamed::append)));
    }
    assertEquals(c.choices().get(0).message().content().orElseThrow(), streamed.toString());

    Completion legacy = openai.completions().create(CompletionCreateParams.builder()
        .model(CompletionCreateParams.Model.of("mock-llm")).prompt("Once upon a time").maxTokens(3L).build());
    assertEquals(3, legacy.usage().orElseThrow().completionTokens());

    CreateEmbeddingResponse emb = openai.embeddings().create(EmbeddingCreateParams.builder()
        .model("mock-llm").input("embed these four words").build());
    assertEquals(1, emb.data().size());
    assertEquals(4, emb.usage().promptTokens());

    List<String> models = openai.models().list().data().stream().map(Model::id).toList();
    assertTrue(models.containsAll(List.of("mock-llm", "slow", "cold")), models.toString());
    assertEquals("mock-llm", openai.models().retrieve("mock-llm").id());

    JsonNode view = adminOk("GET", "/admin/users/" + user, null, 200);
    assertEquals(4, view.at("/usage/requests/day").asInt(), "chat, stream, completion, embeddings: " + view);
    assertFalse(view.toString().contains(key.get("key").asText()), "the secret is shown only when the key is made");
  }

  @Test void anExpiredKeyRaisesTheSdksAuthenticationError() throws Exception {
    String user = newUser("{}");
    JsonNode key = newKey(user, ",\"expires_at\":\"" + Instant.now().plusSeconds(2) + "\"");
    OpenAIClient openai = client(key.get("key").asText());
    openai.chat().completions().create(chat("mock-llm", "still valid", 1));
    Thread.sleep(2500);                                    // a fixed wait: the key expires by the gateway's real clock
    UnauthorizedException e = assertThrows(UnauthorizedException.class,
        () -> openai.chat().completions().create(chat("mock-llm", "too late", 1)));
    assertEquals("key_expired", e.code().orElseThrow());
  }

  @Test void aRevokedKeyIsRefusedAtOnce() throws Exception {
    String user = newUser("{}");
    JsonNode key = newKey(user, "");
    OpenAIClient openai = client(key.get("key").asText());
    openai.chat().completions().create(chat("mock-llm", "before", 1));
    JsonNode revoked = adminOk("DELETE", "/admin/keys/" + key.get("id").asText(), null, 200);
    assertTrue(revoked.get("revoked").asBoolean());
    UnauthorizedException e = assertThrows(UnauthorizedException.class,
        () -> openai.chat().completions().create(chat("mock-llm", "after", 1)));
    assertEquals("key_revoked", e.code().orElseThrow());
    UnauthorizedException listing = assertThrows(UnauthorizedException.class, () -> openai.models().list(),
        "a revoked key lists no models either");
    assertEquals("key_revoked", listing.code().orElseThrow());
    JsonNode view = adminOk("GET", "/admin/users/" + user, null, 200);
    assertFalse(view.at("/keys/0/revoked_at").isNull(), view.toString());
    assertEquals(404, admin("DELETE", "/admin/keys/key_doesnotexist", null).statusCode());
  }

  @Test void aKeyWithoutAccessToAModelGetsPermissionDenied() throws Exception {
    String user = newUser("{}");
    JsonNode key = newKey(user, ",\"models\":[\"slow\"]");
    OpenAIClient openai = client(key.get("key").asText());
    PermissionDeniedException e = assertThrows(PermissionDeniedException.class,
        () -> openai.chat().completions().create(chat("mock-llm", "not mine", 1)));
    assertEquals("model_not_allowed", e.code().orElseThrow());
    assertEquals(List.of("slow"), openai.models().list().data().stream().map(Model::id).toList(),
        "the key sees only the models it may use");
    assertEquals(403, post(key.get("key").asText(), "/v1/embeddings", "{\"model\":\"mock-llm\",\"input\":\"x\"}").statusCode());
  }

  // ---------------------------------------------------------------- limits

  @Test void theRequestAfterTheLimitIsRateLimitedWithRetryAfterAndHeaders() throws Exception {
    awayFromMinuteEdge(15);
    String user = newUser("{\"requests\":{\"minute\":2,\"day\":100}}");
    String key = newKey(user, "").get("key").asText();
    var first = post(key, "/v1/chat/completions", chatBody("mock-llm", "one", 1, false, null));
    assertEquals(200, first.statusCode(), first.body());
    assertEquals("2", first.headers().firstValue("x-ratelimit-limit-requests").orElseThrow());
    assertEquals("1", first.headers().firstValue("x-ratelimit-remaining-requests").orElseThrow());
    assertEquals("99", first.headers().firstValue("x-ratelimit-remaining-requests-day").orElseThrow());
    assertTrue(first.headers().firstValue("x-ratelimit-reset-requests").orElseThrow().matches("\\d+s|\\d+m\\d+s"));
    assertEquals(200, post(key, "/v1/chat/completions", chatBody("mock-llm", "two", 1, false, null)).statusCode());

    RateLimitException e = assertThrows(RateLimitException.class,
        () -> client(key).chat().completions().create(chat("mock-llm", "three", 1)));
    assertEquals("rate_limit_exceeded", e.code().orElseThrow());
    var third = post(key, "/v1/chat/completions", chatBody("mock-llm", "three", 1, false, null));
    assertEquals(429, third.statusCode());
    long retry = Long.parseLong(third.headers().firstValue("retry-after").orElseThrow());
    assertTrue(retry >= 1 && retry <= 60, "retry after the minute window: " + retry);
    assertEquals("0", third.headers().firstValue("x-ratelimit-remaining-requests").orElseThrow());
    assertEquals("requests", JSON.readTree(third.body()).at("/error/type").asText());
  }

  @Test void tokenLimitsReserveAtAdmissionAndSettleFromRealUsage() throws Exception {
    awayFromMinuteEdge(15);
    String user = newUser("{\"tokens\":{\"minute\":1000}}");
    String key = newKey(user, "").get("key").asText();
    var r = post(key, "/v1/chat/completions", chatBody("mock-llm", "count my five words", 7, false, null));
    assertEquals(200, r.statusCode(), r.body());
    long reservedLeft = Long.parseLong(r.headers().firstValue("x-ratelimit-remaining-tokens").orElseThrow());
    assertTrue(reservedLeft < 1000 - 7, "the reservation counts at admission: " + reservedLeft);
    JsonNode view = adminOk("GET", "/admin/users/" + user, null, 200);
    assertEquals(4 + 7, view.at("/usage/tokens/minute").asLong(), "settled to the real usage: " + view);

    var big = post(key, "/v1/chat/completions", chatBody("mock-llm", "a huge reservation", 5000, false, null));
    assertEquals(429, big.statusCode(), "5000 reserved tokens do not fit the 989 left: " + big.body());
    assertEquals("tokens", JSON.readTree(big.body()).at("/error/type").asText());
  }

  @Test void parallelRequestsNeverExceedTheConcurrencyLimit() throws Exception {
    String user = newUser("{\"concurrent\":2}");
    String key = newKey(user, "").get("key").asText();
    // Each request holds the slow model for about 2 s (3 tokens at 700 ms): all 8 arrive while the first 2 run. They
    // all carry the same x-request-id, which must not make them count as one.
    List<Integer> statuses = parallel(8, () -> http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key).header("x-request-id", "same-id-for-all")
        .POST(HttpRequest.BodyPublishers.ofString(chatBody("slow", "hold on", 3, false, null))).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode());
    assertEquals(2, statuses.stream().filter(s -> s == 200).count(), statuses.toString());
    assertEquals(6, statuses.stream().filter(s -> s == 429).count(), statuses.toString());
    assertEquals(0, adminOk("GET", "/admin/users/" + user, null, 200).at("/usage/in_flight").asInt());
  }

  @Test void parallelRequestsNeverExceedTheRequestLimit() throws Exception {
    awayFromMinuteEdge(20);
    String user = newUser("{\"requests\":{\"minute\":5}}");
    String key = newKey(user, "").get("key").asText();
    List<Integer> statuses = parallel(20, () -> post(key, "/v1/chat/completions", chatBody("mock-llm", "go", 1, false, null)).statusCode());
    assertEquals(5, statuses.stream().filter(s -> s == 200).count(), statuses.toString());
    assertEquals(15, statuses.stream().filter(s -> s == 429).count(), statuses.toString());
  }

  static List<Integer> parallel(int n, Callable<Integer> call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<Future<Integer>> futures = new ArrayList<>();
      for (int i = 0; i < n; i++) futures.add(pool.submit(call));
      List<Integer> out = new ArrayList<>();
      for (Future<Integer> f : futures) out.add(f.get(60, TimeUnit.SECONDS));
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  // ---------------------------------------------------------------- usage records

  @Test void usageOfANonStreamedCompletionEqualsTheModelServers() throws Exception {
    String user = newUser("{}");
    String key = newKey(user, "").get("key").asText();
    ChatCompletion c = client(key).chat().completions().create(chat("mock-llm", "six words in this prompt here", 9));
    JsonNode records = usage(user, 1);
    assertEquals(1, records.at("/totals/requests").asInt(), records.toString());
    JsonNode rec = records.at("/data/0");
    assertEquals(c.usage().orElseThrow().promptTokens(), rec.get("prompt_tokens").asLong());
    assertEquals(c.usage().orElseThrow().completionTokens(), rec.get("completion_tokens").asLong());
    assertEquals(200, rec.get("status").asInt());
    assertEquals("mock-llm", rec.get("model").asText());
    assertFalse(rec.get("client_disconnected").asBoolean());
    assertTrue(rec.has("job_id") && rec.has("ttft_ms"), rec.toString());
  }

  @Test void aStreamWithoutIncludeUsageSeesNoUsageButIsBilledExactly() throws Exception {
    String user = newUser("{}");
    String key = newKey(user, "").get("key").asText();
    var r = post(key, "/v1/chat/completions", chatBody("mock-llm", "three little words", 6, true, null));
    assertEquals(200, r.statusCode());
    assertFalse(r.body().contains("usage"), "the client did not ask for usage: " + r.body());
    assertTrue(r.body().trim().endsWith("data: [DONE]"));
    JsonNode rec = usage(user, 1).at("/data/0");
    assertEquals(3, rec.get("prompt_tokens").asLong());
    assertEquals(6, rec.get("completion_tokens").asLong());
    assertTrue(rec.get("stream").asBoolean());
  }

  @Test void aStreamWithIncludeUsageGetsExactlyOpenAisShape() throws Exception {
    String user = newUser("{}");
    String key = newKey(user, "").get("key").asText();
    List<ChatCompletionChunk> chunks = new ArrayList<>();
    try (StreamResponse<ChatCompletionChunk> s = client(key).chat().completions().createStreaming(
        ChatCompletionCreateParams.builder().model(ChatModel.of("mock-llm")).addUserMessage("two words").maxCompletionTokens(4L)
            .streamOptions(ChatCompletionStreamOptions.builder().includeUsage(true).build()).build())) {
      s.stream().forEach(chunks::add);
    }
    ChatCompletionChunk last = chunks.get(chunks.size() - 1);
    assertTrue(last.choices().isEmpty());
    assertEquals(4, last.usage().orElseThrow().completionTokens());
    chunks.subList(0, chunks.size() - 1).forEach(c -> assertTrue(c.usage().isEmpty(), "usage null on the other chunks"));
    var raw = post(key, "/v1/chat/completions", chatBody("mock-llm", "two words", 4, true, "{\"include_usage\":true}"));
    long nullUsages = raw.body().lines().filter(l -> l.contains("\"usage\":null")).count();
    assertEquals(raw.body().lines().filter(l -> l.startsWith("data: {")).count() - 1, nullUsages, raw.body());
    JsonNode rec = usage(user, 2).at("/data/0");
    assertEquals(2, rec.get("prompt_tokens").asLong());
    assertEquals(4, rec.get("completion_tokens").asLong());
  }

  @Test void aStreamTheClientAbandonsIsBilledForWhatWasSent() throws Exception {
    String user = newUser("{}");
    String key = newKey(user, "").get("key").asText();
    String job = EmbeddedStack.awaitReady(gateway, "slow").replicas().get(0).jobId();
    JsonNode before = EmbeddedStack.stats(gateway, "local", "slow", job);
    HttpRequest req = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(chatBody("slow", "abandon me soon", 50, true, null))).build();
    int received = 0;
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    try (InputStream in = r.body(); BufferedReader lines = new BufferedReader(new InputStreamReader(in, StandardCharsets.UTF_8))) {
      String line;
      while ((line = lines.readLine()) != null && received < 3) {
        if (line.startsWith("data: {") && line.contains("\"content\":\"") && !line.contains("\"content\":\"\"")) received++;
      }
    }
    JsonNode rec = Await.until(Duration.ofSeconds(15), "a usage record for the abandoned stream", () -> usage(user).get("data"),
        data -> data.size() > 0).get(0);
    assertTrue(rec != null, "a record for the abandoned stream");
    assertTrue(rec.get("client_disconnected").asBoolean(), rec.toString());
    assertEquals(3, rec.get("prompt_tokens").asLong());
    // mock-llm notices the cut at its next token; from then on it generates nothing more.
    JsonNode after = Await.until(Duration.ofSeconds(20), "mock-llm to count the stream as aborted",
        () -> EmbeddedStack.stats(gateway, "local", "slow", job),
        st -> st.get("streams_aborted").asLong() > before.get("streams_aborted").asLong());
    long generated = after.get("completion_tokens").asLong() - before.get("completion_tokens").asLong();
    long billed = rec.get("completion_tokens").asLong();
    assertTrue(billed >= received && billed <= generated,
        "billed " + billed + " tokens: at least the " + received + " the client read, at most the " + generated + " generated");
    assertTrue(generated < 50, "the generation was cancelled: " + generated);
  }

  @Test void embeddingsUsageIsRecordedAndTotalsAndCsvAddUp() throws Exception {
    String user = newUser("{}");
    String key = newKey(user, "").get("key").asText();
    OpenAIClient openai = client(key);
    CreateEmbeddingResponse emb = openai.embeddings().create(EmbeddingCreateParams.builder().model("mock-llm").input("a b c").build());
    openai.chat().completions().create(chat("mock-llm", "x y", 3));
    JsonNode u = usage(user, 2);
    assertEquals(2, u.at("/totals/requests").asInt(), u.toString());
    assertEquals(emb.usage().promptTokens() + 2, u.at("/totals/prompt_tokens").asLong());
    assertEquals(3, u.at("/totals/completion_tokens").asLong());
    assertEquals("/v1/embeddings", u.at("/data/1/endpoint").asText());
    var csv = admin("GET", "/admin/usage?format=csv&user=" + user, null);
    assertEquals(200, csv.statusCode());
    assertTrue(csv.headers().firstValue("content-type").orElseThrow().startsWith("text/csv"));
    List<String> rows = csv.body().lines().toList();
    assertEquals(3, rows.size(), csv.body());
    assertTrue(rows.get(0).startsWith("\"request_id\","), rows.get(0));
    assertEquals(0, usage("nobody-at-all").at("/totals/requests").asInt());
    assertEquals(400, admin("GET", "/admin/usage?from=yesterday", null).statusCode());
  }

  @Test void refusedRequestsAreRecordedToo() throws Exception {
    String user = newUser("{\"requests\":{\"day\":0}}");
    String key = newKey(user, "").get("key").asText();
    assertEquals(429, post(key, "/v1/chat/completions", chatBody("mock-llm", "no", 1, false, null)).statusCode());
    assertEquals(404, post(key, "/v1/chat/completions", chatBody("gpt-9", "no", 1, false, null)).statusCode());
    JsonNode u = usage(user, 2);
    assertEquals(2, u.at("/totals/requests").asInt(), u.toString());
    assertEquals(0, u.at("/totals/prompt_tokens").asInt());
  }

  // ---------------------------------------------------------------- OIDC

  @Test void aJwtOfTheConfiguredIssuerIsAUserWithItsGroupsLimits() throws Exception {
    String sub = "jwt-user-" + System.nanoTime() % 100_000;
    String token = idp.token(sub, List.of("org-gwdg", "students"));
    ChatCompletion c = client(token).chat().completions().create(chat("mock-llm", "hello from oidc", 2));
    assertEquals(2, c.usage().orElseThrow().completionTokens());
    JsonNode view = adminOk("GET", "/admin/users/" + sub, null, 200);
    assertEquals("oidc", view.get("source").asText());
    assertEquals(List.of("org-gwdg", "students"), List.of(view.at("/groups/0").asText(), view.at("/groups/1").asText()));
    assertEquals(3, view.at("/effective_limits/concurrent").asInt(), "created on first sight with its group's limits: " + view);
    var r = post(token, "/v1/chat/completions", chatBody("mock-llm", "again", 1, false, null));
    assertEquals("3", r.headers().firstValue("x-ratelimit-limit-concurrent").orElseThrow());
    assertEquals("oidc:" + idp.issuer(), usage(sub, 2).at("/data/0/key_id").asText());
  }

  @Test void aJwtWithTheWrongIssuerAudienceSignatureOrExpiryIs401() throws Exception {
    Instant soon = Instant.now().plusSeconds(300);
    String wrongIssuer = idp.token("https://evil.test", Jwts.AUDIENCE, "mallory", soon, List.of());
    String wrongAudience = idp.token(idp.issuer(), "another-service", "mallory", soon, List.of());
    String expired = idp.token(idp.issuer(), Jwts.AUDIENCE, "mallory", Instant.now().minusSeconds(600), List.of());
    String forged = Jwts.sign(Jwts.newRsaKey(idp.signingKey().getKeyID()), idp.claims("mallory").build());
    for (String token : List.of(wrongIssuer, wrongAudience, expired, forged)) {
      UnauthorizedException e = assertThrows(UnauthorizedException.class,
          () -> client(token).chat().completions().create(chat("mock-llm", "let me in", 1)));
      assertEquals("invalid_token", e.code().orElseThrow());
    }
    assertEquals(404, admin("GET", "/admin/users/mallory", null).statusCode(), "no user is created for a refused token");
  }

  // ---------------------------------------------------------------- admin API and conformance

  @Test void theAdminApiValidatesAndExplains() throws Exception {
    String user = newUser("{\"requests\":{\"minute\":10}}");
    assertEquals(409, admin("POST", "/admin/users", "{\"id\":\"" + user + "\"}").statusCode());
    assertEquals(400, admin("POST", "/admin/users", "{\"id\":\"bad id!\"}").statusCode());
    assertEquals(400, admin("POST", "/admin/users", "{\"id\":\"x1\",\"limits\":{\"requests\":{\"minut\":1}}}").statusCode());
    assertEquals(400, admin("POST", "/admin/users", "{\"id\":\"x2\",\"colour\":\"red\"}").statusCode());
    assertEquals(404, admin("GET", "/admin/users/nobody-here", null).statusCode());
    assertEquals(404, admin("POST", "/admin/users/nobody-here/keys", "{}").statusCode());
    assertEquals(400, admin("POST", "/admin/users/" + user + "/keys", "{\"expires_at\":\"2001-01-01T00:00:00Z\"}").statusCode());
    JsonNode patched = adminOk("PATCH", "/admin/users/" + user, "{\"groups\":[\"students\"],\"limits\":{}}", 200);
    assertEquals("students", patched.at("/groups/0").asText());
    assertEquals(3, patched.at("/effective_limits/concurrent").asInt(), "the group's default applies: " + patched);
    assertEquals(1000, patched.at("/effective_limits/requests/minute").asInt(), patched.toString());
    assertTrue(adminOk("GET", "/admin/users", null, 200).toString().contains(user));
    assertEquals(401, http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/admin/users")).GET().build(),
        HttpResponse.BodyHandlers.ofString()).statusCode());
  }

  @Test void otherPathsPassThroughWhenTheServiceAllowsThem() throws Exception {
    String key = EmbeddedStack.API_KEY;
    var notAllowed = post(key, "/v1/rerank", "{\"model\":\"mock-llm\",\"query\":\"q\",\"documents\":[\"d\"]}");
    assertEquals(403, notAllowed.statusCode(), notAllowed.body());
    assertEquals("endpoint_not_allowed", JSON.readTree(notAllowed.body()).at("/error/code").asText());
    assertEquals(404, post(key, "/v1/rerank", "{}").statusCode());
    var id = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/embeddings"))
        .header("Authorization", "Bearer " + key).header("x-request-id", "trace-42")
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"mock-llm\",\"input\":\"hi\"}")).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, id.statusCode(), id.body());
    assertEquals("trace-42", id.headers().firstValue("x-request-id").orElseThrow());
    // The record is made when the response body has ended on the gateway's side, which may be just after the client
    // has read all of it: wait for it rather than read once.
    Await.until(Duration.ofSeconds(15), "the usage record of request trace-42", () -> {
      for (JsonNode r : adminOk("GET", "/admin/usage?user=test&limit=1000", null, 200).get("data")) {
        if (r.get("request_id").asText().equals("trace-42")) return true;
      }
      return false;
    });
  }

  @Test void aCompletionLongerThanTheTimeoutIs504() throws Exception {
    // Its own client: the gateway closes the connection after the 504, which must not break the shared pool's next request.
    HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
    var r = own.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
        .POST(HttpRequest.BodyPublishers.ofString(chatBody("slow", "take your time", 12, false, null))).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(504, r.statusCode(), "12 tokens at 700 ms each take longer than the 5 s completion timeout");
    assertEquals("timeout", JSON.readTree(r.body()).at("/error/code").asText());
  }

  @Test void configKeysActAsTheirUserWithoutAnAdminStep() throws Exception {
    var r = post(EmbeddedStack.API_KEY, "/v1/chat/completions", chatBody("mock-llm", "hello", 1, false, null));
    assertEquals(200, r.statusCode());
    JsonNode view = adminOk("GET", "/admin/users/test", null, 200);
    assertEquals("config", view.get("source").asText());
    assertTrue(view.at("/usage/requests/minute").asInt() >= 1, view.toString());
    assertTrue(view.get("keys").isEmpty(), "a config key is not an admin-made key: " + view);
  }
}
