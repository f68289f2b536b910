package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/** A plain HTTP/1.1 client for one server, plus the parsing every test needs. */
final class TestHttp {

    static final ObjectMapper JSON = new ObjectMapper();

    final HttpClient client = HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
    private final String baseUrl;

    TestHttp(MockLlm server) {
        this.baseUrl = server.baseUrl();
    }

    URI uri(String path) {
        return URI.create(baseUrl + path);
    }

    HttpResponse<String> get(String path) throws IOException, InterruptedException {
        return client.send(HttpRequest.newBuilder(uri(path)).timeout(Duration.ofSeconds(30)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }

    HttpResponse<String> post(String path, String body) throws IOException, InterruptedException {
        return client.send(postRequest(path, body), HttpResponse.BodyHandlers.ofString());
    }

    HttpRequest postRequest(String path, String body) {
        return HttpRequest.newBuilder(uri(path))
                .timeout(Duration.ofSeconds(30))
                .header("Content-Type", "application/json")
                .POST(HttpRequest.BodyPublishers.ofString(body))
                .build();
    }

    /** POSTs and asserts a 200 JSON answer. */
    JsonNode postOk(String path, String body) throws IOException, InterruptedException {
        HttpResponse<String> response = post(path, body);
        assertEquals(200, response.statusCode(), response.body());
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(null));
        return JSON.readTree(response.body());
    }

    MockLlmStats stats() throws IOException, InterruptedException {
        HttpResponse<String> response = get("/stats");
        assertEquals(200, response.statusCode());
        JsonNode s = JSON.readTree(response.body());
        return new MockLlmStats(s.get("requests").asLong(), s.get("completions").asLong(),
                s.get("streams_started").asLong(), s.get("streams_completed").asLong(),
                s.get("streams_aborted").asLong(), s.get("active_streams").asLong(),
                s.get("prompt_tokens").asLong(), s.get("completion_tokens").asLong());
    }

    /**
     * Splits an SSE body into its data payloads, asserting the framing is exactly
     * {@code data: <payload>\n\n} repeated and that the stream ends with {@code [DONE]}.
     */
    static List<String> events(String body) {
        assertTrue(body.endsWith("data: [DONE]\n\n"), "stream must end with [DONE]: " + body);
        List<String> events = new ArrayList<>();
        for (String block : body.split("\n\n")) {
            assertTrue(block.startsWith("data: "), "not an SSE data event: " + block);
            events.add(block.substring("data: ".length()));
        }
        return events;
    }

    /** The JSON events of a stream (everything before the final [DONE]). */
    static List<JsonNode> jsonEvents(String body) throws IOException {
        List<String> events = events(body);
        assertEquals("[DONE]", events.get(events.size() - 1));
        List<JsonNode> json = new ArrayList<>();
        for (String event : events.subList(0, events.size() - 1)) {
            json.add(JSON.readTree(event));
        }
        return json;
    }

    static String chatBody(String model, String userText, String extra) {
        return "{\"model\":\"" + model + "\",\"messages\":[{\"role\":\"user\",\"content\":"
                + quote(userText) + "}]" + (extra.isEmpty() ? "" : "," + extra) + "}";
    }

    static String quote(String text) {
        try {
            return JSON.writeValueAsString(text);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }
}
