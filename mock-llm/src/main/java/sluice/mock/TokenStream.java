package sluice.mock;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.util.concurrent.atomic.AtomicBoolean;
import sluice.mock.OpenAiJson.Envelope;

/**
 * One streamed completion as a sequence of writes: the opening (the 200 header and, for chat, the role chunk), one
 * event per token, and the closing events and {@code [DONE]}. The handler thread writes it in one go when tokens come
 * without a pause; {@link Pacer} writes one token per tick when they come with one. Either way it ends exactly once:
 * completed, or aborted when the client has gone or the server closes.
 */
final class TokenStream {

    private final HttpExchange exchange;
    private final CompletionRequest request;
    private final Envelope envelope;
    private final Counters counters;
    private final AtomicBoolean ended = new AtomicBoolean();
    private SseWriter sse;
    private int written;

    /** Counts the stream as started; it must then be {@link #finish() finished} or {@link #abort() aborted}. */
    TokenStream(HttpExchange exchange, CompletionRequest request, Envelope envelope, Counters counters) {
        this.exchange = exchange;
        this.request = request;
        this.envelope = envelope;
        this.counters = counters;
        counters.streamStarted();
    }

    CompletionRequest request() {
        return request;
    }

    /** Sends the header and, for chat, the chunk that names the assistant role. */
    void open() throws IOException {
        sse = SseWriter.open(exchange);
        if (request.kind() == Kind.CHAT) {
            sse.event(OpenAiJson.chatChunk(envelope, "assistant", "", null, request.includeUsage(), usageSoFar(0)));
        }
    }

    boolean tokensLeft() {
        return written < request.completionTokens();
    }

    /** Writes the next token's event; a failed write means nobody is listening. */
    void writeToken() throws IOException {
        String token = Tokens.token(request.seed(), written);
        Usage soFar = usageSoFar(written + 1);
        sse.event(request.kind() == Kind.CHAT
                ? OpenAiJson.chatChunk(envelope, null, token, null, request.includeUsage(), soFar)
                : OpenAiJson.textChunk(envelope, token, null, request.includeUsage(), soFar));
        written++;
        counters.generated(1);
    }

    /** Writes the finish chunk, the usage chunk if asked for, and {@code [DONE]}, which ends the response. */
    void finish() throws IOException {
        Kind kind = request.kind();
        boolean usageField = request.includeUsage();
        Usage all = usageSoFar(request.completionTokens());
        sse.event(kind == Kind.CHAT
                ? OpenAiJson.chatChunk(envelope, null, null, request.finishReason(), usageField, all)
                : OpenAiJson.textChunk(envelope, "", request.finishReason(), usageField, all));
        if (request.includeUsage()) {
            sse.event(OpenAiJson.usageChunk(kind, envelope, request.usage()));
        }
        // Counted before the terminator: a client that has seen [DONE] must find the stream counted.
        if (ended.compareAndSet(false, true)) {
            counters.streamEnded(true);
        }
        sse.done();
    }

    /** Counts the stream as aborted unless it already ended; idempotent. */
    void abort() {
        if (ended.compareAndSet(false, true)) {
            counters.streamEnded(false);
        }
    }

    /** The usage object of a chunk under continuous_usage_stats, or null (OpenAI's "usage": null) without it. */
    private Usage usageSoFar(int generated) {
        return request.continuousUsage() ? request.usageSoFar(generated) : null;
    }
}
