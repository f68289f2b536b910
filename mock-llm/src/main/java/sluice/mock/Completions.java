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
    private final Pacer pacer;
    private final AtomicLong ids = new AtomicLong();

    Completions(MockLlmConfig config, Counters counters, Pacer pacer) {
        this.config = config;
        this.counters = counters;
        this.pacer = pacer;
    }

    /**
     * Answers a completion; returns true when a paced stream took the exchange over (the {@link Pacer} closes it),
     * false when the answer is complete and the caller closes the exchange.
     */
    boolean handle(HttpExchange exchange, Kind kind) throws IOException {
        JsonNode body = Exchanges.readJsonObject(exchange);
        CompletionRequest request = CompletionRequest.parse(kind, body, config.model(), config.tokens(), config.tokenDelay());
        counters.completionAccepted(request.promptTokens());
        Envelope envelope = new Envelope(
                kind.idPrefix + ids.incrementAndGet(), System.currentTimeMillis() / 1000, config.model());
        if (request.stream()) {
            return stream(exchange, request, envelope);
        }
        respond(exchange, request, envelope);
        return false;
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

    /** Tokens with a pause between them go to the pacer; without one they are written here, in one go. */
    private boolean stream(HttpExchange exchange, CompletionRequest request, Envelope envelope) {
        TokenStream stream = new TokenStream(exchange, request, envelope, counters);
        boolean handedOver = false;
        try {
            stream.open();
            if (!request.tokenDelay().isZero() && stream.tokensLeft()) {
                pacer.start(stream, exchange);
                handedOver = true;
                return true;
            }
            while (stream.tokensLeft()) {
                stream.writeToken();
            }
            stream.finish();
        } catch (IOException clientGone) {
            // A failed write means nobody is listening: stop now.
        } finally {
            if (!handedOver) {
                stream.abort();                  // counts it aborted unless finish() counted it completed
            }
        }
        return false;
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
