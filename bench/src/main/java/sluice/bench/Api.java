package sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;

/** The requests the bench sends: the measured chat completion and the few JSON calls around it. */
final class Api {
  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "mock-llm";
  /** Bench-only credentials of gateways that listen on loopback for the length of one run. */
  static final String API_KEY = "sk-bench-0123456789abcdef";
  static final String ADMIN_KEY = "admin-bench-0123456789abcdef";
  /**
   * A short, non-streaming chat completion of 16 tokens: max_tokens, because the bench's mock-llm runs with
   * --tokens 2000 for the long stream.
   */
  static final String CHAT_BODY = chatBody(MODEL);

  static String chatBody(String model) {
    return "{\"model\":\"" + model
        + "\",\"max_tokens\":16,\"messages\":[{\"role\":\"user\",\"content\":\"Say something short.\"}]}";
  }

  private Api() {}

  /** The same bytes go to every path; mock-llm ignores the Authorization header. */
  static HttpRequest chat(URI base) { return chat(base, API_KEY, MODEL); }

  static HttpRequest chat(URI base, String key, String model) {
    return HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(chatBody(model)))
        .build();
  }

  /**
   * HTTP/1.1 with keep-alive; the pool opens one connection per concurrent request. Its executor runs the response
   * handling on the client's selector thread instead of handing each step to a pool: on this 2-core machine that
   * halved the load generator's CPU per request (and so its theft from the system under test).
   */
  static HttpClient client() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(5))
        .executor(Runnable::run).build();
  }

  /** GET with a Bearer key; the parsed body of a 200, else an IOException with status and body. */
  static JsonNode get(HttpClient http, URI uri, String bearer) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10)).GET();
    if (bearer != null) b.header("Authorization", "Bearer " + bearer);
    return parse(http.send(b.build(), HttpResponse.BodyHandlers.ofString()));
  }

  /** POST a JSON body with a Bearer key; the parsed body of a 200, else an IOException with status and body. */
  static JsonNode post(HttpClient http, URI uri, String bearer, String json) throws IOException, InterruptedException {
    return parse(http.send(HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + bearer).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString()));
  }

  /** A chat completion of exactly {@code maxTokens} tokens (mock-llm generates the cap), streamed or not. */
  static HttpRequest chat(URI base, String model, boolean stream, int maxTokens, Duration timeout) {
    return HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + API_KEY)
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":" + stream
            + ",\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}"))
        .build();
  }

  /**
   * Null when a chat answer is complete, else what is wrong with it: a non-200 status, a stream that does not end
   * with {@code [DONE]} or carries an in-band error, or a body without all {@code maxTokens} tokens.
   */
  static String problem(int status, String body, boolean stream, int maxTokens) {
    if (status != 200) return "HTTP " + status + ": " + abbreviate(body);
    if (stream) {
      return body.endsWith("data: [DONE]\n\n") && !body.contains("\"error\"") ? null : "broken stream: " + abbreviate(body);
    }
    try {
      int tokens = JSON.readTree(body).path("usage").path("completion_tokens").asInt(-1);
      return tokens == maxTokens ? null : "expected " + maxTokens + " tokens, got " + tokens + ": " + abbreviate(body);
    } catch (IOException e) {
      return "not JSON: " + abbreviate(body);
    }
  }

  private static String abbreviate(String s) {
    String one = s.replace('\n', ' ');
    return one.length() > 200 ? one.substring(0, 200) + "..." : one;
  }

  static JsonNode send(HttpClient http, HttpRequest request) throws IOException, InterruptedException {
    return parse(http.send(request, HttpResponse.BodyHandlers.ofString()));
  }

  private static JsonNode parse(HttpResponse<String> r) throws IOException {
    if (r.statusCode() / 100 != 2) throw new IOException("HTTP " + r.statusCode() + " from " + r.uri() + ": " + r.body());
    return JSON.readTree(r.body());
  }

  /**
   * An admin-made key of a new user with limits in every window at the user, model and key scopes, all far above
   * what the bench sends: each request is checked and counted against all of them, and none is refused.
   */
  static String limitedKey(HttpClient http, URI base) throws IOException, InterruptedException {
    String big = "{\"requests\":{\"minute\":100000000,\"hour\":100000000,\"day\":100000000,\"month\":100000000},"
        + "\"tokens\":{\"minute\":100000000000,\"hour\":100000000000,\"day\":100000000000,\"month\":100000000000},"
        + "\"concurrent\":1000000";
    post(http, base.resolve("/admin/users"), ADMIN_KEY, "{\"id\":\"bench-limited\",\"limits\":" + big
        + ",\"models\":{\"" + MODEL + "\":" + big + "}}}}");
    return post(http, base.resolve("/admin/users/bench-limited/keys"), ADMIN_KEY,
        "{\"name\":\"bench\",\"models\":[\"" + MODEL + "\"],\"limits\":" + big + "}}").get("key").asText();
  }

  /** What must be equal on every path: the generated text and the token counts. */
  static String answerOf(JsonNode completion) {
    return completion.path("choices").path(0).path("message").path("content").asText("?")
        + " | usage " + completion.path("usage").toString();
  }
}
