package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/** With --api-key, like vLLM's, only callers that know the job's key may use the model; /health stays open. */
class MockLlmApiKeyTest {
    private static final String KEY = "job-token-0123456789abcdef";

    @Test
    void theApiNeedsTheKeyAndHealthDoesNot() throws Exception {
        try (MockLlm server = MockLlm.start(MockLlmConfig.parse("--port", "0", "--api-key", KEY))) {
            TestHttp http = new TestHttp(server);
            String chat = "{\"model\":\"mock-llm\",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
            HttpResponse<String> none = http.client.send(HttpRequest.newBuilder(http.uri("/v1/chat/completions"))
                    .timeout(Duration.ofSeconds(10)).POST(HttpRequest.BodyPublishers.ofString(chat)).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(401, none.statusCode());
            assertEquals("invalid_api_key", TestHttp.JSON.readTree(none.body()).at("/error/code").asText());
            for (String header : new String[] {"Bearer wrong-key-0123456789abc", "Basic " + KEY, KEY}) {
                HttpResponse<String> wrong = http.client.send(HttpRequest.newBuilder(http.uri("/v1/models"))
                        .header("Authorization", header).timeout(Duration.ofSeconds(10)).GET().build(),
                        HttpResponse.BodyHandlers.ofString());
                assertEquals(401, wrong.statusCode(), header);
            }
            assertEquals(401, http.get("/stats").statusCode());
            assertEquals(200, http.get("/health").statusCode(), "health stays open for readiness probes");
            HttpResponse<String> ok = http.client.send(HttpRequest.newBuilder(http.uri("/v1/chat/completions"))
                    .header("Authorization", "Bearer " + KEY).timeout(Duration.ofSeconds(10))
                    .POST(HttpRequest.BodyPublishers.ofString(chat)).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, ok.statusCode(), ok.body());
        }
    }

    @Test
    void shortKeysAreRefusedAndTheKeyIsNeverPrinted() {
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.parse("--port", "0", "--api-key", "short"));
        String shown = MockLlmConfig.parse("--port", "0", "--api-key", KEY).toString();
        assertFalse(shown.contains(KEY), shown);
    }
}
