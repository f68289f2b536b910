package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.ConnectException;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;
import org.junit.jupiter.api.Test;

/** Behaviour over time: startup delay, slow tokens, client disconnects, counters and shutdown. */
final class MockLlmLifecycleTest {

    private static final String CHAT = "/v1/chat/completions";
    private static final Duration PATIENCE = Duration.ofSeconds(10);

    @Test
    void startupDelayAnswers503UntilLoaded() throws Exception {
        Duration delay = Duration.ofMillis(1500);
        long started = System.nanoTime();
        try (MockLlm server = MockLlm.start(MockLlmConfig.defaults().withStartupDelay(delay))) {
            TestHttp http = new TestHttp(server);

            HttpResponse<String> loading = http.get("/health");
            assertEquals(503, loading.statusCode());
            assertEquals("{\"status\":\"loading\"}", loading.body());
            assertTrue(loading.headers().firstValue("Retry-After").isPresent());
            HttpResponse<String> chat = http.post(CHAT, TestHttp.chatBody("mock-llm", "too early", ""));
            MockLlmServerTest.assertError(chat, 503, "model_loading");
            MockLlmServerTest.assertError(http.get("/v1/models"), 503, "model_loading");
            assertEquals(200, http.get("/stats").statusCode(), "stats stay observable while loading");

            while (http.get("/health").statusCode() == 503) {
                assertTrue(System.nanoTime() - started < PATIENCE.toNanos(), "never became healthy");
                Thread.sleep(50);
            }
            assertTrue(System.nanoTime() - started >= delay.toNanos(), "healthy before the startup delay");
            assertEquals("{\"status\":\"ok\"}", http.get("/health").body());
            assertEquals(200, http.post(CHAT, TestHttp.chatBody("mock-llm", "now", "")).statusCode());
            assertTrue(server.ready());
        }
    }

    @Test
    void clientDisconnectMidStreamAbortsTheGeneration() throws Exception {
        int tokens = 1000;
        MockLlmConfig config = MockLlmConfig.defaults().withTokens(tokens).withTokenDelay(Duration.ofMillis(20));
        try (MockLlm server = MockLlm.start(config)) {
            TestHttp http = new TestHttp(server);
            HttpResponse<InputStream> response = http.client.send(
                    http.postRequest(CHAT, TestHttp.chatBody("mock-llm", "slow one", "\"stream\":true")),
                    HttpResponse.BodyHandlers.ofInputStream());
            assertEquals(200, response.statusCode());
            try (BufferedReader reader = new BufferedReader(
                    new InputStreamReader(response.body(), StandardCharsets.UTF_8))) {
                int events = 0;
                while (events < 3) {
                    String line = reader.readLine();
                    if (line != null && line.startsWith("data: {")) {
                        events++;
                    }
                }
                assertEquals(1, http.stats().activeStreams());
            } // closing the body mid-stream drops the connection

            MockLlmStats stats = awaitStats(http, s -> s.streamsAborted() == 1 && s.activeStreams() == 0);
            assertEquals(1, stats.streamsStarted());
            assertEquals(0, stats.streamsCompleted());
            assertTrue(stats.completionTokens() < tokens / 2,
                    "generation must stop, not run to the end: " + stats);
            // And it stays stopped.
            Thread.sleep(200);
            assertEquals(stats.completionTokens(), http.stats().completionTokens());
        }
    }

    @Test
    void rawSocketDisconnectAlsoAborts() throws Exception {
        MockLlmConfig config = MockLlmConfig.defaults().withTokens(1000).withTokenDelay(Duration.ofMillis(20));
        try (MockLlm server = MockLlm.start(config)) {
            TestHttp http = new TestHttp(server);
            String body = "{\"model\":\"mock-llm\",\"prompt\":\"abc\",\"stream\":true}";
            try (Socket socket = new Socket("127.0.0.1", server.port())) {
                socket.setSoTimeout(10_000);
                socket.getOutputStream().write(("POST /v1/completions HTTP/1.1\r\nHost: x\r\nContent-Length: "
                        + body.length() + "\r\n\r\n" + body).getBytes(StandardCharsets.UTF_8));
                BufferedReader reader = new BufferedReader(
                        new InputStreamReader(socket.getInputStream(), StandardCharsets.UTF_8));
                int events = 0;
                while (events < 2) {
                    if (reader.readLine().startsWith("data: {")) {
                        events++;
                    }
                }
            }
            awaitStats(http, s -> s.streamsAborted() == 1 && s.activeStreams() == 0);
        }
    }

    /** Streams that pause between tokens wait without a thread: many more are open at once than handler threads. */
    @Test
    void pacedStreamsOutnumberTheHandlerThreads() throws Exception {
        int streams = 60;
        MockLlmConfig config = MockLlmConfig.defaults().withTokens(5).withTokenDelay(Duration.ofMillis(200)).withThreads(4);
        try (MockLlm server = MockLlm.start(config)) {
            TestHttp http = new TestHttp(server);
            List<CompletableFuture<HttpResponse<String>>> answers = new ArrayList<>();
            for (int i = 0; i < streams; i++) {
                answers.add(http.client.sendAsync(
                        http.postRequest(CHAT, TestHttp.chatBody("mock-llm", "slow " + i, "\"stream\":true")),
                        HttpResponse.BodyHandlers.ofString()));
            }
            awaitStats(http, s -> s.activeStreams() == streams);
            long serverThreads = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.getName().startsWith("mock-llm-")).count();
            assertTrue(serverThreads <= 4 + Math.max(2, Runtime.getRuntime().availableProcessors()),
                    "no thread per open stream: " + serverThreads);
            for (CompletableFuture<HttpResponse<String>> answer : answers) {
                String body = answer.get().body();
                assertEquals(5, body.split("\"content\":\"", -1).length - 2, body); // the role chunk has "content":"" too
                assertTrue(body.endsWith("data: [DONE]\n\n"), body);
            }
            MockLlmStats stats = http.stats();
            assertEquals(streams, stats.streamsCompleted());
            assertEquals(5L * streams, stats.completionTokens());
            assertEquals(0, stats.activeStreams());
        }
    }

    @Test
    void tokenDelayAppliesToNonStreamingResponses() throws Exception {
        MockLlmConfig config = MockLlmConfig.defaults().withTokens(5).withTokenDelay(Duration.ofMillis(60));
        try (MockLlm server = MockLlm.start(config)) {
            TestHttp http = new TestHttp(server);
            long started = System.nanoTime();
            JsonNode reply = http.postOk(CHAT, TestHttp.chatBody("mock-llm", "wait for it", "\"max_tokens\":4"));
            long elapsedMs = (System.nanoTime() - started) / 1_000_000;
            assertEquals(4, reply.get("usage").get("completion_tokens").asInt());
            assertTrue(elapsedMs >= 4 * 60, "4 tokens x 60 ms, took " + elapsedMs + " ms");
        }
    }

    @Test
    void statsCountRequestsStreamsAndTokensExactly() throws Exception {
        try (MockLlm server = MockLlm.start(MockLlmConfig.defaults().withTokens(10))) {
            TestHttp http = new TestHttp(server);
            http.postOk(CHAT, TestHttp.chatBody("mock-llm", "a b c", ""));                  // 3 + 10
            http.postOk(CHAT, TestHttp.chatBody("mock-llm", "d e", "\"max_tokens\":4"));    // 2 + 4
            http.post(CHAT, TestHttp.chatBody("mock-llm", "f", "\"stream\":true"));        // 1 + 10
            http.postOk("/v1/completions", "{\"model\":\"mock-llm\",\"prompt\":\"g h i j\",\"max_tokens\":1}"); // 4 + 1
            http.postOk("/v1/embeddings", "{\"model\":\"mock-llm\",\"input\":\"k l\"}");     // 2
            http.post(CHAT, "not json");                                                      // rejected
            http.get("/v1/models");
            http.get("/health");                                                              // not under /v1

            MockLlmStats stats = http.stats();
            assertEquals(new MockLlmStats(7, 4, 1, 1, 0, 0, 3 + 2 + 1 + 4 + 2, 10 + 4 + 10 + 1), stats);
            assertEquals(stats, server.stats());
        }
    }

    @Test
    void closeStopsRunningStreamsAndFreesThePort() throws Exception {
        MockLlmConfig config = MockLlmConfig.defaults().withTokens(1000).withTokenDelay(Duration.ofMillis(50));
        MockLlm server = MockLlm.start(config);
        TestHttp http = new TestHttp(server);
        CompletableFuture<HttpResponse<String>> stream = http.client.sendAsync(
                http.postRequest(CHAT, TestHttp.chatBody("mock-llm", "long", "\"stream\":true")),
                HttpResponse.BodyHandlers.ofString());
        awaitStats(http, s -> s.activeStreams() == 1);

        server.close();
        server.close(); // idempotent

        assertEquals(0, server.stats().activeStreams());
        assertEquals(1, server.stats().streamsAborted());
        assertTrue(stream.handle((ok, error) -> true).get());
        assertThrows(ConnectException.class, () -> new Socket("127.0.0.1", server.port()).close());
    }

    @Test
    void startFailsWhenThePortIsTaken() throws Exception {
        try (MockLlm first = MockLlm.start(MockLlmConfig.defaults())) {
            assertThrows(IOException.class, () -> MockLlm.start(MockLlmConfig.defaults().withPort(first.port())));
        }
    }

    private static MockLlmStats awaitStats(TestHttp http, Predicate<MockLlmStats> condition) throws Exception {
        long deadline = System.nanoTime() + PATIENCE.toNanos();
        MockLlmStats stats = http.stats();
        while (!condition.test(stats)) {
            if (System.nanoTime() > deadline) {
                fail("stats never reached the expected state: " + stats);
            }
            Thread.sleep(25);
            stats = http.stats();
        }
        return stats;
    }
}
