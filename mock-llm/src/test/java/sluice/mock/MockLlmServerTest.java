package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** The HTTP API as an OpenAI client sees it, against one shared server with default settings. */
final class MockLlmServerTest {

    private static final String MODEL = "test-model";
    private static final String CHAT = "/v1/chat/completions";
    private static final String TEXT = "/v1/completions";

    private static MockLlm server;
    private static TestHttp http;

    @BeforeAll
    static void start() throws IOException {
        server = MockLlm.start(MockLlmConfig.defaults().withModel(MODEL));
        http = new TestHttp(server);
    }

    @AfterAll
    static void stop() {
        server.close();
    }

    /** The documented rule, computed independently of the server's code path. */
    private static String expectedText(String promptText, int tokens) {
        int seed = promptText.hashCode() & 0x7fffffff;
        List<String> words = new ArrayList<>();
        for (int i = 0; i < tokens; i++) {
            words.add(Tokens.VOCAB.get((seed + i) % Tokens.VOCAB.size()));
        }
        return String.join(" ", words);
    }

    @Test
    void chatCompletionHasOpenAiShapeAndExactUsage() throws Exception {
        String body = "{\"model\":\"test-model\",\"messages\":["
                + "{\"role\":\"system\",\"content\":\"You are terse.\"},"
                + "{\"role\":\"user\",\"content\":\"  Hello there,\\tmock\\nmodel!  \"}]}";
        HttpResponse<String> response = http.post(CHAT, body);

        assertEquals(200, response.statusCode());
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
        assertEquals(String.valueOf(response.body().getBytes(StandardCharsets.UTF_8).length),
                response.headers().firstValue("Content-Length").orElseThrow());
        JsonNode json = TestHttp.JSON.readTree(response.body());
        assertTrue(json.get("id").asText().startsWith("chatcmpl-mock-"), json.toString());
        assertEquals("chat.completion", json.get("object").asText());
        assertTrue(json.get("created").isIntegralNumber());
        assertTrue(Math.abs(json.get("created").asLong() - System.currentTimeMillis() / 1000) < 60);
        assertEquals(MODEL, json.get("model").asText());
        JsonNode choice = json.get("choices").get(0);
        assertEquals(1, json.get("choices").size());
        assertEquals(0, choice.get("index").asInt());
        assertEquals("assistant", choice.get("message").get("role").asText());
        assertTrue(choice.has("logprobs") && choice.get("logprobs").isNull());
        assertEquals("stop", choice.get("finish_reason").asText());
        // 3 + 4 words; 16 tokens by default.
        assertEquals(expectedText("You are terse.\n  Hello there,\tmock\nmodel!  ", 16),
                choice.get("message").get("content").asText());
        assertUsage(json.get("usage"), 7, 16);
    }

    @Test
    void sameRequestGivesSameContentAndOtherPromptsDiffer() throws Exception {
        String request = TestHttp.chatBody(MODEL, "determinism please", "\"temperature\":0.7");
        JsonNode first = http.postOk(CHAT, request);
        JsonNode second = http.postOk(CHAT, request);
        JsonNode other = http.postOk(CHAT, TestHttp.chatBody(MODEL, "something else entirely", ""));

        assertEquals(first.get("choices"), second.get("choices"));
        assertEquals(first.get("usage"), second.get("usage"));
        assertNotEquals(first.get("id"), second.get("id"));
        assertNotEquals(content(first), content(other));
    }

    @Test
    void maxTokensCutsGenerationShortWithFinishReasonLength() throws Exception {
        JsonNode cut = http.postOk(CHAT, TestHttp.chatBody(MODEL, "one two", "\"max_tokens\":5"));
        assertEquals("length", cut.get("choices").get(0).get("finish_reason").asText());
        assertUsage(cut.get("usage"), 2, 5);
        assertEquals(expectedText("one two", 5), content(cut));

        JsonNode newStyle = http.postOk(CHAT, TestHttp.chatBody(MODEL, "one two", "\"max_completion_tokens\":3"));
        assertEquals("length", newStyle.get("choices").get(0).get("finish_reason").asText());
        assertEquals(3, newStyle.get("usage").get("completion_tokens").asInt());

        JsonNode roomy = http.postOk(CHAT, TestHttp.chatBody(MODEL, "one two", "\"max_tokens\":100"));
        assertEquals("stop", roomy.get("choices").get(0).get("finish_reason").asText());
        assertEquals(16, roomy.get("usage").get("completion_tokens").asInt());
    }

    @Test
    void streamedChatConcatenatesToTheNonStreamedContent() throws Exception {
        String prompt = "stream me something";
        String expected = content(http.postOk(CHAT, TestHttp.chatBody(MODEL, prompt, "")));

        HttpResponse<String> response = http.post(CHAT, TestHttp.chatBody(MODEL, prompt, "\"stream\":true"));

        assertEquals(200, response.statusCode());
        assertEquals("text/event-stream", response.headers().firstValue("Content-Type").orElseThrow());
        assertTrue(response.headers().firstValue("Content-Length").isEmpty(), "a stream must be chunked");
        List<JsonNode> chunks = TestHttp.jsonEvents(response.body());
        assertEquals(1 + 16 + 1, chunks.size(), "role chunk, one per token, final chunk");
        JsonNode first = chunks.get(0).get("choices").get(0);
        assertEquals("assistant", first.get("delta").get("role").asText());
        assertEquals("", first.get("delta").get("content").asText());
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks) {
            assertEquals("chat.completion.chunk", chunk.get("object").asText());
            assertEquals(chunks.get(0).get("id"), chunk.get("id"));
            assertEquals(MODEL, chunk.get("model").asText());
            assertFalse(chunk.has("usage"), "no usage unless stream_options.include_usage: " + chunk);
            text.append(chunk.get("choices").get(0).get("delta").path("content").asText(""));
        }
        assertEquals(expected, text.toString());
        JsonNode last = chunks.get(chunks.size() - 1).get("choices").get(0);
        assertEquals(0, last.get("delta").size(), "final delta is {}");
        assertEquals("stop", last.get("finish_reason").asText());
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(chunk.get("choices").get(0).get("finish_reason").isNull());
        }
    }

    @Test
    void includeUsageAddsAFinalUsageChunkMatchingTheNonStreamedUsage() throws Exception {
        JsonNode plain = http.postOk(CHAT, TestHttp.chatBody(MODEL, "count my usage", "\"max_tokens\":4"));

        HttpResponse<String> response = http.post(CHAT, TestHttp.chatBody(MODEL, "count my usage",
                "\"max_tokens\":4,\"stream\":true,\"stream_options\":{\"include_usage\":true}"));

        List<JsonNode> chunks = TestHttp.jsonEvents(response.body());
        assertEquals(1 + 4 + 1 + 1, chunks.size());
        JsonNode usageChunk = chunks.get(chunks.size() - 1);
        assertEquals(0, usageChunk.get("choices").size());
        assertEquals(plain.get("usage"), usageChunk.get("usage"));
        assertUsage(usageChunk.get("usage"), 3, 4);
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertTrue(chunk.has("usage") && chunk.get("usage").isNull(), "usage:null on every chunk: " + chunk);
        }
        assertEquals("length", chunks.get(chunks.size() - 2).get("choices").get(0).get("finish_reason").asText());
    }

    @Test
    void continuousUsageStatsPutsTheUsageSoFarOnEveryChunk() throws Exception {
        JsonNode plain = http.postOk(CHAT, TestHttp.chatBody(MODEL, "count as you go", "\"max_tokens\":4"));

        List<JsonNode> chunks = TestHttp.jsonEvents(http.post(CHAT, TestHttp.chatBody(MODEL, "count as you go",
                "\"max_tokens\":4,\"stream\":true,"
                        + "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}")).body());

        assertEquals(1 + 4 + 1 + 1, chunks.size(), "role, tokens, final, usage");
        assertUsage(chunks.get(0).get("usage"), 4, 0);
        for (int i = 1; i <= 4; i++) {
            assertUsage(chunks.get(i).get("usage"), 4, i);
        }
        assertEquals("length", chunks.get(5).get("choices").get(0).get("finish_reason").asText());
        assertEquals(plain.get("usage"), chunks.get(5).get("usage"));
        assertEquals(0, chunks.get(6).get("choices").size());
        assertEquals(plain.get("usage"), chunks.get(6).get("usage"));
    }

    @Test
    void continuousUsageStatsOnTextCompletionsCountsEachToken() throws Exception {
        String body = "{\"model\":\"test-model\",\"prompt\":\"one two three\",\"max_tokens\":3,\"stream\":true,"
                + "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}}";

        List<JsonNode> chunks = TestHttp.jsonEvents(http.post(TEXT, body).body());

        assertEquals(3 + 1 + 1, chunks.size(), "tokens, final, usage");
        for (int i = 0; i < 3; i++) {
            assertUsage(chunks.get(i).get("usage"), 3, i + 1);
        }
        assertUsage(chunks.get(3).get("usage"), 3, 3);
        assertUsage(chunks.get(4).get("usage"), 3, 3);
    }

    @Test
    void continuousUsageStatsWithoutIncludeUsageChangesNothing() throws Exception {
        String options = "\"max_tokens\":3,\"stream\":true,\"stream_options\":";
        List<JsonNode> without = TestHttp.jsonEvents(http.post(CHAT, TestHttp.chatBody(MODEL, "quiet",
                options + "{\"continuous_usage_stats\":true}")).body());
        List<JsonNode> excluded = TestHttp.jsonEvents(http.post(CHAT, TestHttp.chatBody(MODEL, "quiet",
                options + "{\"include_usage\":false,\"continuous_usage_stats\":true}")).body());

        for (List<JsonNode> chunks : List.of(without, excluded)) {
            assertEquals(1 + 3 + 1, chunks.size(), "no usage chunk");
            for (JsonNode chunk : chunks) {
                assertFalse(chunk.has("usage"), chunk.toString());
            }
        }
    }

    @Test
    void textCompletionsStreamingAndNot() throws Exception {
        String body = "{\"model\":\"test-model\",\"prompt\":[\"alpha beta\",\"gamma\"],\"max_tokens\":6}";
        JsonNode plain = http.postOk(TEXT, body);

        assertTrue(plain.get("id").asText().startsWith("cmpl-mock-"));
        assertEquals("text_completion", plain.get("object").asText());
        JsonNode choice = plain.get("choices").get(0);
        assertEquals(expectedText("alpha beta\ngamma", 6), choice.get("text").asText());
        assertTrue(choice.get("logprobs").isNull());
        assertEquals("length", choice.get("finish_reason").asText());
        assertUsage(plain.get("usage"), 3, 6);

        String streamBody = body.replace("}", ",\"stream\":true,\"stream_options\":{\"include_usage\":true}}");
        List<JsonNode> chunks = TestHttp.jsonEvents(http.post(TEXT, streamBody).body());
        assertEquals(6 + 1 + 1, chunks.size(), "one per token, final, usage");
        StringBuilder text = new StringBuilder();
        for (JsonNode chunk : chunks.subList(0, chunks.size() - 1)) {
            assertEquals("text_completion", chunk.get("object").asText());
            text.append(chunk.get("choices").get(0).get("text").asText());
        }
        assertEquals(choice.get("text").asText(), text.toString());
        assertEquals("length", chunks.get(6).get("choices").get(0).get("finish_reason").asText());
        assertEquals(plain.get("usage"), chunks.get(7).get("usage"));
    }

    @Test
    void promptTokensCountTextPartsOnlyAndAreAtLeastOne() throws Exception {
        String parts = "{\"model\":\"test-model\",\"messages\":[{\"role\":\"user\",\"content\":["
                + "{\"type\":\"text\",\"text\":\"look at this\"},"
                + "{\"type\":\"image_url\",\"image_url\":{\"url\":\"http://x/y.png\"}},"
                + "{\"type\":\"text\",\"text\":\"please\"}]},"
                + "{\"role\":\"assistant\",\"content\":null}]}";
        assertEquals(4, http.postOk(CHAT, parts).get("usage").get("prompt_tokens").asInt());

        JsonNode empty = http.postOk(CHAT, TestHttp.chatBody(MODEL, "   ", ""));
        assertEquals(1, empty.get("usage").get("prompt_tokens").asInt());
    }

    @Test
    void embeddingsAreDeterministicPerInputAndSupportBase64() throws Exception {
        String body = "{\"model\":\"test-model\",\"input\":[\"first text here\",\"second\"]}";
        JsonNode first = http.postOk("/v1/embeddings", body);
        JsonNode again = http.postOk("/v1/embeddings", body);

        assertEquals(first, again);
        assertEquals("list", first.get("object").asText());
        assertEquals(MODEL, first.get("model").asText());
        assertEquals(2, first.get("data").size());
        for (int i = 0; i < 2; i++) {
            JsonNode item = first.get("data").get(i);
            assertEquals("embedding", item.get("object").asText());
            assertEquals(i, item.get("index").asInt());
            assertEquals(8, item.get("embedding").size());
        }
        assertNotEquals(first.get("data").get(0).get("embedding"), first.get("data").get(1).get("embedding"));
        assertEquals(4, first.get("usage").get("prompt_tokens").asInt());
        assertEquals(4, first.get("usage").get("total_tokens").asInt());

        JsonNode base64 = http.postOk("/v1/embeddings",
                "{\"model\":\"test-model\",\"input\":\"second\",\"encoding_format\":\"base64\"}");
        ByteBuffer bytes = ByteBuffer.wrap(Base64.getDecoder().decode(
                base64.get("data").get(0).get("embedding").asText())).order(ByteOrder.LITTLE_ENDIAN);
        float[] decoded = new float[8];
        float[] plain = new float[8];
        for (int i = 0; i < 8; i++) {
            decoded[i] = bytes.getFloat();
            plain[i] = first.get("data").get(1).get("embedding").get(i).floatValue();
        }
        assertArrayEquals(plain, decoded);
    }

    @Test
    void wrongModelIs404ModelNotFoundOnEveryEndpoint() throws Exception {
        assertError(http.post(CHAT, TestHttp.chatBody("gpt-4o", "hi", "")), 404, "model_not_found");
        assertError(http.post(TEXT, "{\"model\":\"gpt-4o\",\"prompt\":\"hi\"}"), 404, "model_not_found");
        assertError(http.post("/v1/embeddings", "{\"model\":\"gpt-4o\",\"input\":\"hi\"}"), 404, "model_not_found");
        assertError(http.get("/v1/models/gpt-4o"), 404, "model_not_found");
    }

    /**
     * The per-request delay lets one server carry slow streams and quick requests side by side (the bench's
     * concurrent-streams scenario): this server has no delay, the request asks for 250 ms per token.
     */
    @Test
    void mockTokenDelayMsSlowsThisRequestOnly() throws Exception {
        long t0 = System.nanoTime();
        HttpResponse<String> slow = http.post(CHAT, TestHttp.chatBody(MODEL, "slowly",
                "\"max_tokens\":3,\"stream\":true,\"mock_token_delay_ms\":250"));
        long slowMs = (System.nanoTime() - t0) / 1_000_000;
        assertEquals(200, slow.statusCode(), slow.body());
        assertEquals(1 + 3 + 1, TestHttp.jsonEvents(slow.body()).size(), "role, 3 tokens, final");
        assertTrue(slowMs >= 3 * 250, "3 tokens at 250 ms each took only " + slowMs + " ms");

        t0 = System.nanoTime();
        JsonNode plain = http.postOk(CHAT, TestHttp.chatBody(MODEL, "slowly", "\"max_tokens\":2,\"mock_token_delay_ms\":300"));
        long plainMs = (System.nanoTime() - t0) / 1_000_000;
        assertUsage(plain.get("usage"), 1, 2);
        assertTrue(plainMs >= 2 * 300, "2 tokens at 300 ms each took only " + plainMs + " ms");

        t0 = System.nanoTime();
        http.postOk(CHAT, TestHttp.chatBody(MODEL, "quickly", "\"mock_token_delay_ms\":0"));
        http.postOk(CHAT, TestHttp.chatBody(MODEL, "quickly", ""));
        long quickMs = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(quickMs < 3 * 250, "two requests without a delay took " + quickMs + " ms");
    }

    @Test
    void mockTokenDelayMsMustBeAnIntegerFrom0To60000() throws Exception {
        for (String bad : List.of("-1", "60001", "\"5\"", "2.5", "true", "{}")) {
            assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"mock_token_delay_ms\":" + bad)),
                    "mock_token_delay_ms");
        }
        assertParam(http.post(TEXT, "{\"model\":\"test-model\",\"prompt\":\"x\",\"mock_token_delay_ms\":-5}"),
                "mock_token_delay_ms");
        assertEquals(200, http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"mock_token_delay_ms\":null")).statusCode());
    }

    @Test
    void malformedOrInvalidRequestsAre400WithOpenAiErrors() throws Exception {
        assertError(http.post(CHAT, "{\"model\": \"test-model\", "), 400, null);
        assertError(http.post(CHAT, "{} trailing"), 400, null);
        assertError(http.post(CHAT, "[1,2]"), 400, null);
        assertError(http.post(CHAT, ""), 400, null);
        assertParam(http.post(CHAT, "{\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"), "model");
        assertParam(http.post(CHAT, "{\"model\":\"test-model\",\"messages\":[]}"), "messages");
        assertParam(http.post(CHAT, "{\"model\":\"test-model\",\"messages\":\"hi\"}"), "messages");
        assertParam(http.post(CHAT, "{\"model\":\"test-model\",\"messages\":[{\"content\":\"no role\"}]}"),
                "messages[0]");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"n\":2")), "n");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"max_tokens\":0")), "max_tokens");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"max_tokens\":\"5\"")), "max_tokens");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"max_tokens\":2.5")), "max_tokens");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"max_completion_tokens\":-1")),
                "max_completion_tokens");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"stream\":\"yes\"")), "stream");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"stream_options\":{\"include_usage\":true}")),
                "stream_options");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x",
                "\"stream\":true,\"stream_options\":{\"include_usage\":\"yes\"}")), "include_usage");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x",
                "\"stream\":true,\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":1}")),
                "continuous_usage_stats");
        assertParam(http.post(CHAT, TestHttp.chatBody(MODEL, "x",
                "\"stream\":true,\"stream_options\":{\"continuous_usage_stats\":\"true\"}")),
                "continuous_usage_stats");
        assertParam(http.post(TEXT, "{\"model\":\"test-model\"}"), "prompt");
        assertParam(http.post(TEXT, "{\"model\":\"test-model\",\"prompt\":[1,2,3]}"), "prompt");
        assertParam(http.post("/v1/embeddings", "{\"model\":\"test-model\",\"input\":[]}"), "input");
        assertParam(http.post("/v1/embeddings", "{\"model\":\"test-model\",\"input\":\"x\",\"encoding_format\":\"hex\"}"),
                "encoding_format");
        // n = 1 is fine, explicitly.
        assertEquals(200, http.post(CHAT, TestHttp.chatBody(MODEL, "x", "\"n\":1")).statusCode());
    }

    @Test
    void wrongMethodIs405WithAllowAndUnknownPathIs404() throws Exception {
        HttpResponse<String> get = http.get(CHAT);
        assertError(get, 405, "method_not_allowed");
        assertEquals("POST", get.headers().firstValue("Allow").orElseThrow());

        HttpResponse<String> post = http.post("/v1/models", "{}");
        assertError(post, 405, "method_not_allowed");
        assertEquals("GET", post.headers().firstValue("Allow").orElseThrow());

        assertError(http.get("/v1/nothing-here"), 404, "unknown_url");
        assertError(http.get("/"), 404, "unknown_url");
    }

    @Test
    void modelsHealthAndModelRetrieval() throws Exception {
        HttpResponse<String> health = http.get("/health");
        assertEquals(200, health.statusCode());
        assertEquals("{\"status\":\"ok\"}", health.body());

        JsonNode models = TestHttp.JSON.readTree(http.get("/v1/models").body());
        assertEquals("list", models.get("object").asText());
        assertEquals(1, models.get("data").size());
        JsonNode model = models.get("data").get(0);
        assertEquals(MODEL, model.get("id").asText());
        assertEquals("model", model.get("object").asText());
        assertEquals(1_700_000_000L, model.get("created").asLong());
        assertEquals("sluice-mock", model.get("owned_by").asText());
        assertEquals(model, TestHttp.JSON.readTree(http.get("/v1/models/" + MODEL).body()));
    }

    @Test
    void keepAliveServesSeveralRequestsOnOneConnection() throws Exception {
        String body = TestHttp.chatBody(MODEL, "keep alive", "\"max_tokens\":2");
        byte[] request = ("POST /v1/chat/completions HTTP/1.1\r\nHost: localhost\r\n"
                + "Content-Type: application/json\r\nContent-Length: " + body.length() + "\r\n\r\n" + body)
                .getBytes(StandardCharsets.UTF_8);
        try (Socket socket = new Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(10_000);
            OutputStream out = socket.getOutputStream();
            InputStream in = socket.getInputStream();
            for (int i = 0; i < 3; i++) {
                out.write(request);
                out.flush();
                String response = readResponse(in);
                assertTrue(response.startsWith("HTTP/1.1 200"), response);
                assertTrue(response.contains("\"completion_tokens\":2"), response);
            }
            // Streams end cleanly too, leaving the connection usable.
            byte[] stream = new String(request, StandardCharsets.UTF_8)
                    .replace("\"max_tokens\":2", "\"max_tokens\":2,\"stream\":true")
                    .replace("Content-Length: " + body.length(), "Content-Length: " + (body.length() + 14))
                    .getBytes(StandardCharsets.UTF_8);
            out.write(stream);
            out.write(request);
            out.flush();
            assertTrue(readChunked(in).endsWith("data: [DONE]\n\n"));
            assertTrue(readResponse(in).startsWith("HTTP/1.1 200"));
        }
    }

    @Test
    void handlesManyConcurrentRequests() throws Exception {
        List<CompletableFuture<HttpResponse<String>>> futures = new ArrayList<>();
        for (int i = 0; i < 300; i++) {
            String extra = i % 2 == 0 ? "\"max_tokens\":3" : "\"max_tokens\":3,\"stream\":true";
            HttpRequest request = http.postRequest(CHAT, TestHttp.chatBody(MODEL, "req " + i, extra));
            futures.add(http.client.sendAsync(request, HttpResponse.BodyHandlers.ofString()));
        }
        for (CompletableFuture<HttpResponse<String>> future : futures) {
            HttpResponse<String> response = future.get();
            assertEquals(200, response.statusCode(), response.body());
            assertTrue(response.body().contains("\"finish_reason\":\"length\""), response.body());
        }
    }

    private static String content(JsonNode completion) {
        return completion.get("choices").get(0).get("message").get("content").asText();
    }

    private static void assertUsage(JsonNode usage, int prompt, int completion) {
        assertEquals(prompt, usage.get("prompt_tokens").asInt(), usage.toString());
        assertEquals(completion, usage.get("completion_tokens").asInt(), usage.toString());
        assertEquals(prompt + completion, usage.get("total_tokens").asInt(), usage.toString());
    }

    static void assertError(HttpResponse<String> response, int status, String code) throws IOException {
        assertEquals(status, response.statusCode(), response.body());
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(null));
        JsonNode error = TestHttp.JSON.readTree(response.body()).get("error");
        assertTrue(error.get("message").isTextual() && !error.get("message").asText().isBlank(), response.body());
        assertTrue(error.get("type").isTextual(), response.body());
        assertTrue(error.has("param") && error.has("code"), response.body());
        if (status < 500) {
            assertEquals("invalid_request_error", error.get("type").asText());
        }
        if (code == null) {
            assertTrue(error.get("code").isNull(), response.body());
        } else {
            assertEquals(code, error.get("code").asText(), response.body());
        }
    }

    private static void assertParam(HttpResponse<String> response, String param) throws IOException {
        assertError(response, 400, null);
        assertEquals(param, TestHttp.JSON.readTree(response.body()).get("error").get("param").asText(),
                response.body());
    }

    /** Reads one Content-Length response (headers + body) off a raw connection. */
    private static String readResponse(InputStream in) throws IOException {
        String head = readHead(in);
        int length = -1;
        for (String line : head.split("\r\n")) {
            if (line.toLowerCase().startsWith("content-length:")) {
                length = Integer.parseInt(line.substring(15).trim());
            }
        }
        assertTrue(length >= 0, "no Content-Length in " + head);
        return head + new String(in.readNBytes(length), StandardCharsets.UTF_8);
    }

    /** Reads one chunked response's body off a raw connection, byte-wise so the next response stays intact. */
    private static String readChunked(InputStream in) throws IOException {
        String head = readHead(in);
        assertTrue(head.toLowerCase().contains("transfer-encoding: chunked"), head);
        StringBuilder body = new StringBuilder();
        while (true) {
            int size = Integer.parseInt(readLine(in).trim(), 16);
            if (size == 0) {
                readLine(in);
                return body.toString();
            }
            body.append(new String(in.readNBytes(size), StandardCharsets.UTF_8));
            readLine(in);
        }
    }

    private static String readHead(InputStream in) throws IOException {
        StringBuilder head = new StringBuilder();
        String line;
        while (!(line = readLine(in)).isEmpty()) {
            head.append(line).append("\r\n");
        }
        return head.toString();
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) != '\n') {
            if (c == -1) {
                throw new IOException("connection closed after: " + line);
            }
            if (c != '\r') {
                line.append((char) c);
            }
        }
        return line.toString();
    }
}
