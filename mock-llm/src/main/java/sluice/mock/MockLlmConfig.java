package sluice.mock;

import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Settings of one mock-llm server. The compact constructor validates, so a config built in code is
 * held to the same rules as one parsed from the command line.
 *
 * @param host         interface to bind, e.g. 127.0.0.1 or 0.0.0.0
 * @param port         TCP port; 0 picks a free one (see {@link MockLlm#port()})
 * @param model        the only model id the server accepts and reports
 * @param tokens       completion tokens generated when a request gives no max_tokens (the cap otherwise)
 * @param tokenDelay   pause before each generated token, to simulate a slow model
 * @param startupDelay simulated model loading; /health and /v1 answer 503 until it has elapsed
 * @param threads      size of the handler thread pool; a stream with a token delay holds one only until its
 *                     first event (its tokens are then written by the pacer)
 * @param apiKey       when set, /v1/* and /stats need {@code Authorization: Bearer <apiKey>} (as vLLM's --api-key);
 *                     /health stays open; null = no key
 * @param logRequests  one stdout line per /v1 request with its X-Request-Id, as vLLM logs it (off: the bench measures
 *                     the mock's cost too)
 */
public record MockLlmConfig(
        String host,
        int port,
        String model,
        int tokens,
        Duration tokenDelay,
        Duration startupDelay,
        int threads,
        String apiKey,
        boolean logRequests) {

    public static final String DEFAULT_HOST = "127.0.0.1";
    public static final String DEFAULT_MODEL = "mock-llm";
    public static final int DEFAULT_TOKENS = 16;
    public static final int DEFAULT_THREADS = 128;
    /** Upper bounds keep a typo from turning into an out-of-memory error or a week-long sleep. */
    static final int MAX_TOKENS = 1_000_000;
    static final int MAX_THREADS = 16_384;
    static final long MAX_DELAY_MS = 3_600_000;

    private static final Set<String> OPTIONS = Set.of(
            "--port", "--host", "--model", "--tokens", "--token-delay-ms", "--startup-delay-ms", "--threads",
            "--api-key", "--log-requests");

    public MockLlmConfig {
        requireText(host, "host");
        if (port < 0 || port > 65_535) {
            throw new IllegalArgumentException("port must be in 0..65535, got " + port);
        }
        requireText(model, "model");
        requireRange("tokens", tokens, 1, MAX_TOKENS);
        requireDelay(tokenDelay, "tokenDelay");
        requireDelay(startupDelay, "startupDelay");
        requireRange("threads", threads, 1, MAX_THREADS);
        if (apiKey != null && (apiKey.length() < 16 || !apiKey.matches("[\\x21-\\x7e]+"))) {
            throw new IllegalArgumentException("api key must be at least 16 printable characters without spaces");
        }
    }

    /** Never prints the key itself. */
    @Override
    public String toString() {
        return "MockLlmConfig[host=" + host + ", port=" + port + ", model=" + model + ", tokens=" + tokens
                + ", tokenDelay=" + tokenDelay + ", startupDelay=" + startupDelay + ", threads=" + threads
                + ", apiKey=" + (apiKey == null ? "none" : "set") + ", logRequests=" + logRequests + "]";
    }

    public MockLlmConfig(String host, int port, String model, int tokens, Duration tokenDelay, Duration startupDelay,
                         int threads, String apiKey) {
        this(host, port, model, tokens, tokenDelay, startupDelay, threads, apiKey, false);
    }

    /** Without an API key. */
    public MockLlmConfig(String host, int port, String model, int tokens, Duration tokenDelay, Duration startupDelay,
                         int threads) {
        this(host, port, model, tokens, tokenDelay, startupDelay, threads, null);
    }

    /** Defaults for everything, listening on a free port: the usual start for in-process tests. */
    public static MockLlmConfig defaults() {
        return new MockLlmConfig(DEFAULT_HOST, 0, DEFAULT_MODEL, DEFAULT_TOKENS, Duration.ZERO, Duration.ZERO,
                DEFAULT_THREADS);
    }

    public MockLlmConfig withPort(int newPort) {
        return new MockLlmConfig(host, newPort, model, tokens, tokenDelay, startupDelay, threads, apiKey, logRequests);
    }

    public MockLlmConfig withModel(String newModel) {
        return new MockLlmConfig(host, port, newModel, tokens, tokenDelay, startupDelay, threads, apiKey, logRequests);
    }

    public MockLlmConfig withTokens(int newTokens) {
        return new MockLlmConfig(host, port, model, newTokens, tokenDelay, startupDelay, threads, apiKey, logRequests);
    }

    public MockLlmConfig withTokenDelay(Duration newTokenDelay) {
        return new MockLlmConfig(host, port, model, tokens, newTokenDelay, startupDelay, threads, apiKey, logRequests);
    }

    public MockLlmConfig withStartupDelay(Duration newStartupDelay) {
        return new MockLlmConfig(host, port, model, tokens, tokenDelay, newStartupDelay, threads, apiKey, logRequests);
    }

    public MockLlmConfig withThreads(int newThreads) {
        return new MockLlmConfig(host, port, model, tokens, tokenDelay, startupDelay, newThreads, apiKey, logRequests);
    }

    /**
     * Parses the command line ({@code --name value} or {@code --name=value}). {@code --help} is not an
     * option here: the launcher handles it before parsing.
     *
     * @throws IllegalArgumentException with a one-line message naming the offending option
     */
    public static MockLlmConfig parse(String... args) {
        Objects.requireNonNull(args, "args");
        Map<String, String> values = collect(args);
        if (!values.containsKey("--port")) {
            throw new IllegalArgumentException("missing required option --port");
        }
        return new MockLlmConfig(
                text(values, "--host", DEFAULT_HOST),
                (int) number(values, "--port", 0, 0, 65_535),
                text(values, "--model", DEFAULT_MODEL),
                (int) number(values, "--tokens", DEFAULT_TOKENS, 1, MAX_TOKENS),
                Duration.ofMillis(number(values, "--token-delay-ms", 0, 0, MAX_DELAY_MS)),
                Duration.ofMillis(number(values, "--startup-delay-ms", 0, 0, MAX_DELAY_MS)),
                (int) number(values, "--threads", DEFAULT_THREADS, 1, MAX_THREADS),
                values.get("--api-key"),
                onOff(values, "--log-requests"));
    }

    public static String usage() {
        return String.join(System.lineSeparator(),
                "usage: java -jar mock-llm.jar --port N [options]",
                "  --port N               TCP port to listen on (required; 0 = any free port)",
                "  --host H               interface to bind (default " + DEFAULT_HOST + ")",
                "  --model NAME           model id to serve (default " + DEFAULT_MODEL + ")",
                "  --tokens N             completion tokens when a request gives no max_tokens (default "
                        + DEFAULT_TOKENS + ")",
                "  --token-delay-ms D     delay before each generated token (default 0)",
                "  --startup-delay-ms D   simulated model loading; 503 until elapsed (default 0)",
                "  --threads N            request handler threads (default " + DEFAULT_THREADS + ")",
                "  --api-key KEY          require 'Authorization: Bearer KEY' on /v1/* and /stats (default: none)",
                "  --log-requests on|off  one stdout line per /v1 request with its X-Request-Id (default off)",
                "  --help                 print this help and exit",
                "");
    }

    private static Map<String, String> collect(String[] args) {
        Map<String, String> values = new HashMap<>();
        for (int i = 0; i < args.length; i++) {
            String arg = Objects.requireNonNull(args[i], "argument");
            int eq = arg.indexOf('=');
            String name = arg.startsWith("--") && eq > 0 ? arg.substring(0, eq) : arg;
            if (!OPTIONS.contains(name)) {
                throw new IllegalArgumentException("unknown option '" + arg + "'");
            }
            String value;
            if (eq > 0 && name.length() == eq) {
                value = arg.substring(eq + 1);
            } else if (i + 1 < args.length && !args[i + 1].startsWith("--")) {
                value = args[++i];
            } else {
                throw new IllegalArgumentException("option " + name + " needs a value");
            }
            if (values.putIfAbsent(name, value) != null) {
                throw new IllegalArgumentException("option " + name + " given more than once");
            }
        }
        return values;
    }

    private static String text(Map<String, String> values, String name, String fallback) {
        String value = values.getOrDefault(name, fallback);
        if (value.isBlank()) {
            throw new IllegalArgumentException("option " + name + " must not be blank");
        }
        return value;
    }

    private static boolean onOff(Map<String, String> values, String name) {
        String raw = values.getOrDefault(name, "off");
        return switch (raw) {
            case "on" -> true;
            case "off" -> false;
            default -> throw new IllegalArgumentException("option " + name + " must be on or off, got '" + raw + "'");
        };
    }

    private static long number(Map<String, String> values, String name, long fallback, long min, long max) {
        String raw = values.get(name);
        if (raw == null) {
            return fallback;
        }
        long value;
        try {
            value = Long.parseLong(raw.trim());
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("option " + name + " must be an integer, got '" + raw + "'");
        }
        if (value < min || value > max) {
            throw new IllegalArgumentException(
                    "option " + name + " must be in " + min + ".." + max + ", got " + value);
        }
        return value;
    }

    private static void requireText(String value, String name) {
        if (value == null || value.isBlank()) {
            throw new IllegalArgumentException(name + " must not be blank");
        }
    }

    private static void requireRange(String name, int value, int min, int max) {
        if (value < min || value > max) {
            throw new IllegalArgumentException(name + " must be in " + min + ".." + max + ", got " + value);
        }
    }

    private static void requireDelay(Duration delay, String name) {
        if (delay == null || delay.isNegative() || delay.toMillis() > MAX_DELAY_MS) {
            throw new IllegalArgumentException(name + " must be between 0 and " + MAX_DELAY_MS + " ms, got " + delay);
        }
    }
}
