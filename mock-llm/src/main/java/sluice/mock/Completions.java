package sluice.mock;

import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import sluice.mock.OpenAiJson.Envelope;

/** {@code POST /v1/chat/completions} and {@code POST /v1/completions}, streaming or not. */
final class Completions {

    private final MockLlmConfig config;
    private final Counters counters;
    private final AtomicLong ids = new AtomicLong();

    Completions(MockLlmConfig config, Counters counters) {
        this.config = config;
        this.counters = counters;
    }

    void handle(HttpExchange exchange, Kind kind) throws IOException {
        JsonNode body = Exchanges.readJsonObject(exchange);
        CompletionRequest request = CompletionRequest.parse(kind, body, config.model(), config.tokens(), config.tokenDelay());
        counters.completionAccepted(request.promptTokens());
        Envelope envelope = new Envelope(
                kind.idPrefix + ids.incrementAndGet(), System.currentTimeMillis() / 1000, config.model());
        if (request.stream()) {
            stream(exchange, request, envelope);
        } else {
            respond(exchange, request, envelope);
        }
    }

    private void respond(HttpExchange exchange, CompletionRequest request, Envelope envelope) throws IOException {
        int tokens = request.completionTokens();
        // One sleep for the whole generation: same total as per-token pauses, without their overshoot.
        if (!pause(request.tokenDelay().multipliedBy(tokens))) {
            throw new ApiException(503, "the server is shutting down", "server_error", null, null);
        }
        counters.generated(tokens);
        Exchanges.sendJson(exchange, 200, OpenAiJson.completion(request.kind(), envelope,
                Tokens.text(request.seed(), tokens), request.finishReason(), request.usage()));
    }

    private void stream(HttpExchange exchange, CompletionRequest request, Envelope envelope) {
        counters.streamStarted();
        boolean ended = false;
        try {
            SseWriter sse = SseWriter.open(exchange);
            if (generate(sse, request, envelope)) {
                // Counted before the terminator: a client that has seen [DONE] must find the stream counted.
                counters.streamEnded(true);
                ended = true;
                sse.done();
            }
        } catch (IOException clientGone) {
            // A failed write means nobody is listening: stop now instead of sleeping through the rest.
        } finally {
            if (!ended) {
                counters.streamEnded(false);
            }
        }
    }

    /** Writes every event but [DONE]; returns false when interrupted (server closing) part-way. */
    private boolean generate(SseWriter sse, CompletionRequest request, Envelope envelope) throws IOException {
        Kind kind = request.kind();
        boolean usageField = request.includeUsage();
        if (kind == Kind.CHAT) {
            sse.event(OpenAiJson.chatChunk(envelope, "assistant", "", null, usageField, usageSoFar(request, 0)));
        }
        for (int i = 0; i < request.completionTokens(); i++) {
            if (!pause(request.tokenDelay())) {
                return false;
            }
            String token = Tokens.token(request.seed(), i);
            Usage soFar = usageSoFar(request, i + 1);
            sse.event(kind == Kind.CHAT
                    ? OpenAiJson.chatChunk(envelope, null, token, null, usageField, soFar)
                    : OpenAiJson.textChunk(envelope, token, null, usageField, soFar));
            counters.generated(1);
        }
        Usage all = usageSoFar(request, request.completionTokens());
        sse.event(kind == Kind.CHAT
                ? OpenAiJson.chatChunk(envelope, null, null, request.finishReason(), usageField, all)
                : OpenAiJson.textChunk(envelope, "", request.finishReason(), usageField, all));
        if (request.includeUsage()) {
            sse.event(OpenAiJson.usageChunk(kind, envelope, request.usage()));
        }
        return true;
    }

    /** The usage object of a chunk under continuous_usage_stats, or null (OpenAI's "usage": null) without it. */
    private static Usage usageSoFar(CompletionRequest request, int generated) {
        return request.continuousUsage() ? request.usageSoFar(generated) : null;
    }

    /** Sleeps; returns false (interrupt status kept) if the server is closing underneath us. */
    private static boolean pause(Duration delay) {
        if (delay.isZero()) {
            return true;
        }
        try {
            TimeUnit.NANOSECONDS.sleep(saturatedNanos(delay));
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return false;
        }
    }

    private static long saturatedNanos(Duration delay) {
        try {
            return delay.toNanos();
        } catch (ArithmeticException tooLong) {
            return Long.MAX_VALUE;
        }
    }
}
