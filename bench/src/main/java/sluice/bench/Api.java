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
  /** A short, non-streaming chat completion; mock-llm answers it with its default --tokens (16). */
  static final String CHAT_BODY =
      "{\"model\":\"" + MODEL + "\",\"messages\":[{\"role\":\"user\",\"content\":\"Say something short.\"}]}";

  private Api() {}

  /** The same bytes go to every path; mock-llm ignores the Authorization header. */
  static HttpRequest chat(URI base) {
    return HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
        .timeout(Duration.ofSeconds(30))
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + API_KEY)
        .POST(HttpRequest.BodyPublishers.ofString(CHAT_BODY))
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

  static JsonNode send(HttpClient http, HttpRequest request) throws IOException, InterruptedException {
    return parse(http.send(request, HttpResponse.BodyHandlers.ofString()));
  }

  private static JsonNode parse(HttpResponse<String> r) throws IOException {
    if (r.statusCode() != 200) throw new IOException("HTTP " + r.statusCode() + " from " + r.uri() + ": " + r.body());
    return JSON.readTree(r.body());
  }

  /** What must be equal on every path: the generated text and the token counts. */
  static String answerOf(JsonNode completion) {
    return completion.path("choices").path(0).path("message").path("content").asText("?")
        + " | usage " + completion.path("usage").toString();
  }
}
