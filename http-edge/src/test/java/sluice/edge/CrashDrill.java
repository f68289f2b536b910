package sluice.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.io.IOException;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import sluice.agent.testing.Await;

/**
 * What the crash tests share: the gateway config file both incarnations read, clients, the admin view of a
 * service's jobs, and the measurement of a restart as a client sees it (the first request that succeeds).
 */
final class CrashDrill {
  static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private CrashDrill() {}

  /** Writes the gateway's deployment file; {@code Main.serve} layers it over application.conf and reference.conf. */
  static Path writeConfig(Path dir, String hocon) throws IOException {
    Path file = dir.resolve("gateway.conf");
    Files.writeString(file, hocon);
    return file;
  }

  /** The official client, without its own retries: every failure counts. */
  static OpenAIClient openai(String baseUrl) {
    return OpenAIOkHttpClient.builder().apiKey(EmbeddedStack.API_KEY).baseUrl(baseUrl + "/v1")
        .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
  }

  static ChatCompletionCreateParams chat(String model, String text, long maxTokens) {
    return ChatCompletionCreateParams.builder().model(ChatModel.of(model)).addUserMessage(text).maxCompletionTokens(maxTokens).build();
  }

  /** One chat completion: streaming or not; fails unless it returns {@code maxTokens} tokens of text. */
  static String complete(OpenAIClient client, String model, String text, long maxTokens, boolean stream) {
    if (!stream) {
      var c = client.chat().completions().create(chat(model, text, maxTokens));
      if (c.usage().orElseThrow().completionTokens() != maxTokens) throw new IllegalStateException("wrong usage: " + c);
      return c.choices().get(0).message().content().orElseThrow();
    }
    StringBuilder out = new StringBuilder();
    try (StreamResponse<ChatCompletionChunk> s = client.chat().completions().createStreaming(chat(model, text, maxTokens))) {
      s.stream().forEach(chunk -> chunk.choices().forEach(ch -> ch.delta().content().ifPresent(out::append)));
    }
    if (out.length() == 0) throw new IllegalStateException("empty stream");
    return out.toString();
  }

  /**
   * {@code n} requests at once, half of them streaming, each compared with a non-streaming answer to the same prompt
   * (mock-llm is deterministic); returns the failures, empty when all succeeded.
   */
  static List<String> burst(OpenAIClient client, String model, int n) throws InterruptedException {
    ExecutorService pool = Executors.newFixedThreadPool(Math.min(n, 8));
    try {
      List<CompletableFuture<String>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        all.add(CompletableFuture.supplyAsync(() -> {
          String prompt = "after the restart " + k;
          String whole = complete(client, model, prompt, 6, false);
          if (k % 2 == 1) {
            String streamed = complete(client, model, prompt, 6, true);
            if (!streamed.equals(whole)) throw new IllegalStateException("streamed '" + streamed + "' != '" + whole + "'");
          }
          return whole;
        }, pool));
      }
      List<String> failures = new ArrayList<>();
      for (var f : all) {
        try {
          f.get(120, TimeUnit.SECONDS);
        } catch (Exception e) {
          failures.add(String.valueOf(e.getCause() != null ? e.getCause() : e));
        }
      }
      return failures;
    } finally {
      pool.shutdownNow();
    }
  }

  static JsonNode admin(String baseUrl, String path) throws IOException, InterruptedException {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + path)).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).build(), HttpResponse.BodyHandlers.ofString());
    if (r.statusCode() != 200) throw new IllegalStateException("GET " + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  /** The jobs of a service that the gateway routes to (routable replicas), from {@code GET /admin/services/{id}}. */
  static Set<String> routableJobs(String baseUrl, String service) throws IOException, InterruptedException {
    Set<String> out = new TreeSet<>();
    for (JsonNode r : admin(baseUrl, "/admin/services/" + service).path("replicas")) {
      if (r.path("routable").asBoolean()) out.add(r.path("job_id").asText());
    }
    return out;
  }

  /** Every job the gateway tracks for a service, in whatever phase, from {@code GET /admin/services/{id}}. */
  static Set<String> trackedJobs(String baseUrl, String service) throws IOException, InterruptedException {
    Set<String> out = new TreeSet<>();
    for (JsonNode r : admin(baseUrl, "/admin/services/" + service).path("replicas")) out.add(r.path("job_id").asText());
    return out;
  }

  /**
   * How a client saw a restart: connection attempts refused while nothing listened, HTTP answers that were not 200
   * (should stay empty: a request that reaches the new gateway waits for the re-adopted job), and when the first
   * chat completion succeeded.
   */
  record FirstSuccess(long atNanos, int refused, List<String> failed) {}

  /**
   * Sends one small chat completion after another, at {@link Await}'s pace, until one succeeds; the success is timed
   * when its answer arrives. A connection refused (nothing listens yet) and an answer other than 200 are counted.
   */
  static FirstSuccess firstSuccess(String baseUrl, String model, Duration timeout) throws Exception {
    String body = "{\"model\":\"" + model + "\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"are you back?\"}]}";
    Attempts seen = new Attempts();
    Await.until(timeout, "a chat completion to succeed", () -> {
      try {
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/v1/chat/completions"))
            .timeout(Duration.ofSeconds(90)).header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
            .header("Content-Type", "application/json").POST(HttpRequest.BodyPublishers.ofString(body)).build(),
            HttpResponse.BodyHandlers.ofString());
        if (r.statusCode() == 200) seen.succeededAt(System.nanoTime());
        else seen.failed.add(r.statusCode() + " " + r.body());
      } catch (ConnectException e) {
        seen.refused++;
      }
      return seen;
    }, Attempts::succeeded);
    return new FirstSuccess(seen.succeededAtNanos, seen.refused, List.copyOf(seen.failed));
  }

  /** What {@link #firstSuccess} has seen so far; its text ends the failure message when no request succeeds. */
  private static final class Attempts {
    int refused;
    final List<String> failed = new ArrayList<>();
    private boolean succeeded;
    private long succeededAtNanos;

    void succeededAt(long atNanos) {
      succeeded = true;
      succeededAtNanos = atNanos;
    }

    boolean succeeded() { return succeeded; }

    @Override public String toString() {
      return refused + " connections refused, failed answers: " + failed;
    }
  }

  static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
  }

  /** Clients sending chat completions back to back (every third one streaming) until stopped. */
  static final class Traffic implements AutoCloseable {
    private final AtomicBoolean running = new AtomicBoolean(true);
    private final AtomicInteger ok = new AtomicInteger();
    private final AtomicInteger failed = new AtomicInteger();
    private final List<String> errors = Collections.synchronizedList(new ArrayList<>());
    private final List<Thread> threads = new ArrayList<>();

    Traffic(OpenAIClient client, String model, int clients) {
      for (int i = 0; i < clients; i++) {
        int c = i;
        Thread t = new Thread(() -> {
          for (int n = 0; running.get(); n++) {
            try {
              complete(client, model, "client " + c + " request " + n, 12, n % 3 == 0);
              ok.incrementAndGet();
            } catch (RuntimeException e) {
              failed.incrementAndGet();
              if (errors.size() < 5) errors.add(e.toString());
            }
          }
        }, "traffic-" + i);
        t.setDaemon(true);
        t.start();
        threads.add(t);
      }
    }

    int ok() { return ok.get(); }

    int failed() { return failed.get(); }

    List<String> errors() { return List.copyOf(errors); }

    /** Sends no new request; those in flight end as they will (after a kill, with a broken connection). */
    void stopSending() {
      running.set(false);
    }

    /** Stops sending and waits for the requests in flight to end. */
    @Override public void close() throws InterruptedException {
      stopSending();
      for (Thread t : threads) t.join(TimeUnit.SECONDS.toMillis(70));
    }
  }
}
