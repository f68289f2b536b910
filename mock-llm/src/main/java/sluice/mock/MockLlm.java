package sluice.mock;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A running mock-llm server. Start one in-process with {@link #start(MockLlmConfig)}, point a client at
 * {@link #baseUrl()}, read {@link #stats()}, and {@link #close()} it when done.
 *
 * <pre>{@code
 * try (MockLlm llm = MockLlm.start(MockLlmConfig.defaults().withModel("demo"))) {
 *     URI chat = URI.create(llm.baseUrl() + "/v1/chat/completions");
 *     ...
 * }
 * }</pre>
 */
public final class MockLlm implements AutoCloseable {

    static {
        // The JDK server reads these once, when its classes first load, so they are set before any
        // HttpServer exists; a value the user set on the command line wins.
        // Nagle is on by default: headers and body leave in separate writes and the peer's delayed
        // ACK then costs ~40 ms per keep-alive request.
        defaultProperty("sun.net.httpserver.nodelay", "true");
        // Beyond 200 idle connections (the default) the server silently closes each connection after
        // its response, which breaks keep-alive for any benchmark with more concurrent clients. At
        // 10,000, the bench's 10,000 slow streams left as many kept-alive connections behind, and the
        // next clients' connections were closed after each answer: their next request on them failed
        // ("connection closed mid-answer", 295 to 4,346 streams a run). Idle connections cost a
        // descriptor each, nothing more.
        defaultProperty("sun.net.httpserver.maxIdleConnections", "1000000");
        // Idle connections are closed after 30 s by default, racing client pools that use the same
        // timeout (a request sent on a connection the server is closing fails); let clients go first.
        defaultProperty("sun.net.httpserver.idleInterval", "300");
    }

    /** Pending-connection queue; benchmarks open many connections at once. */
    private static final int BACKLOG = 1024;

    private final MockLlmConfig config;
    private final HttpServer server;
    private final ExecutorService executor;
    private final Counters counters;
    private final Router router;
    private final Pacer pacer;
    private final AtomicBoolean closed = new AtomicBoolean();

    private MockLlm(MockLlmConfig config, HttpServer server, ExecutorService executor, Counters counters,
            Router router, Pacer pacer) {
        this.config = config;
        this.server = server;
        this.executor = executor;
        this.counters = counters;
        this.router = router;
        this.pacer = pacer;
    }

    /**
     * Binds and starts serving; the startup delay (if any) runs from here.
     *
     * @throws IOException if the address cannot be bound (e.g. the port is taken)
     */
    public static MockLlm start(MockLlmConfig config) throws IOException {
        Objects.requireNonNull(config, "config");
        long readyAt = System.nanoTime() + config.startupDelay().toNanos();
        HttpServer server = HttpServer.create(new InetSocketAddress(config.host(), config.port()), BACKLOG);
        ExecutorService executor = newExecutor(config.threads());
        Counters counters = new Counters();
        Pacer pacer = new Pacer();
        Router router = new Router(config, counters, readyAt, pacer);
        server.createContext("/", router);
        server.setExecutor(executor);
        server.start();
        return new MockLlm(config, server, executor, counters, router, pacer);
    }

    public MockLlmConfig config() {
        return config;
    }

    /** The bound port: the real one when the config asked for port 0. */
    public int port() {
        return server.getAddress().getPort();
    }

    /** e.g. {@code http://127.0.0.1:41234}, without a trailing slash; append {@code /v1/...}. */
    public String baseUrl() {
        String host = config.host().contains(":") ? "[" + config.host() + "]" : config.host();
        return "http://" + host + ":" + port();
    }

    /** True once the simulated startup delay has elapsed. */
    public boolean ready() {
        return router.ready();
    }

    public MockLlmStats stats() {
        return counters.snapshot();
    }

    /** Stops listening, drops open connections and ends running generations as aborted. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        server.stop(0);
        pacer.close();
        executor.shutdownNow();
        try {
            executor.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void defaultProperty(String name, String value) {
        if (System.getProperty(name) == null) {
            System.setProperty(name, value);
        }
    }

    /** A fixed pool: no per-request thread creation, and the threads are daemons so they never pin the JVM. */
    private static ExecutorService newExecutor(int threads) {
        AtomicInteger count = new AtomicInteger();
        ThreadFactory factory = task -> {
            Thread thread = new Thread(task, "mock-llm-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
        return new ThreadPoolExecutor(threads, threads, 0, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
    }
}
