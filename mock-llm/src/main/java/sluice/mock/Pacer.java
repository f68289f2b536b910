package sluice.mock;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes the tokens of streams that pause between tokens from a few scheduler threads, so an open stream costs no
 * thread while it waits. With a sleeping handler thread per stream, 10,000 slow streams in the bench meant 10,128
 * threads in mock-llm, which used about a core; mock-llm stands in for a model server on GPU nodes, so that cost only
 * took CPU from the path being measured. Writes stay blocking (the JDK server's response stream): a
 * client that stops reading holds a pacer thread once its socket buffers are full, which a client reading tokens
 * that come with pauses does not reach.
 */
final class Pacer implements AutoCloseable {

    private final ScheduledThreadPoolExecutor timer;
    private final Set<Paced> live = ConcurrentHashMap.newKeySet();

    Pacer() {
        AtomicInteger count = new AtomicInteger();
        timer = new ScheduledThreadPoolExecutor(Math.max(2, Runtime.getRuntime().availableProcessors()), task -> {
            Thread thread = new Thread(task, "mock-llm-pacer-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        });
        timer.setRemoveOnCancelPolicy(true);
    }

    /**
     * Takes over an opened stream and its exchange: the first token one delay from now, each next one a delay after
     * the one before (on a fixed schedule, so late ticks do not add up), then the closing events; the exchange is
     * closed when the stream ends either way.
     */
    void start(TokenStream stream, HttpExchange exchange) {
        Paced paced = new Paced(stream, exchange, stream.request().tokenDelay().toNanos(), System.nanoTime());
        live.add(paced);
        paced.scheduleNext();
    }

    /** Aborts every stream still open and stops the threads. */
    @Override
    public void close() {
        timer.shutdownNow();
        for (Paced p : live) {
            p.end(false);
        }
        try {
            timer.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private final class Paced {
        private final TokenStream stream;
        private final HttpExchange exchange;
        private final long delayNanos;
        private final long startNanos;
        private int ticks;

        Paced(TokenStream stream, HttpExchange exchange, long delayNanos, long startNanos) {
            this.stream = stream;
            this.exchange = exchange;
            this.delayNanos = delayNanos;
            this.startNanos = startNanos;
        }

        void scheduleNext() {
            ticks++;
            long due = startNanos + ticks * delayNanos;
            try {
                timer.schedule(this::tick, due - System.nanoTime(), TimeUnit.NANOSECONDS);
            } catch (RejectedExecutionException closing) {
                end(false);
            }
        }

        private void tick() {
            try {
                stream.writeToken();
                if (stream.tokensLeft()) {
                    scheduleNext();
                } else {
                    stream.finish();
                    end(true);
                }
            } catch (IOException | RuntimeException clientGoneOrClosing) {
                end(false);
            }
        }

        void end(boolean completed) {
            if (!completed) {
                stream.abort();
            }
            live.remove(this);
            exchange.close();
        }
    }
}
