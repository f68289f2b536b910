package sluice.mock;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;

/** Live counters behind {@code /stats}; LongAdder because many handler threads bump them at once. */
final class Counters {

    private final LongAdder requests = new LongAdder();
    private final LongAdder completions = new LongAdder();
    private final LongAdder streamsStarted = new LongAdder();
    private final LongAdder streamsCompleted = new LongAdder();
    private final LongAdder streamsAborted = new LongAdder();
    private final AtomicLong activeStreams = new AtomicLong();
    private final LongAdder promptTokens = new LongAdder();
    private final LongAdder completionTokens = new LongAdder();

    void request() {
        requests.increment();
    }

    void completionAccepted(int prompt) {
        completions.increment();
        promptTokens.add(prompt);
    }

    void embeddingAccepted(int prompt) {
        promptTokens.add(prompt);
    }

    void generated(int tokens) {
        completionTokens.add(tokens);
    }

    void streamStarted() {
        streamsStarted.increment();
        activeStreams.incrementAndGet();
    }

    void streamEnded(boolean completed) {
        // Count the outcome before leaving "active", so a poller never sees active 0 without the outcome.
        (completed ? streamsCompleted : streamsAborted).increment();
        activeStreams.decrementAndGet();
    }

    MockLlmStats snapshot() {
        return new MockLlmStats(requests.sum(), completions.sum(), streamsStarted.sum(), streamsCompleted.sum(),
                streamsAborted.sum(), activeStreams.get(), promptTokens.sum(), completionTokens.sum());
    }
}
