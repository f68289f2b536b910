package sluice.mock;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpHandler;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;

/**
 * The single handler behind "/": routes by exact path, so unknown paths and wrong methods get
 * OpenAI-style errors instead of the JDK server's HTML pages, and guarantees every exchange is
 * answered and closed whatever happens inside an endpoint, unless a paced stream took it over
 * (its {@link Pacer} closes it).
 */
final class Router implements HttpHandler {

    private static final String MODELS_PREFIX = "/v1/models/";

    @FunctionalInterface
    private interface Endpoint {
        /** Returns true when the exchange was handed over and must be left open. */
        boolean handle(HttpExchange exchange) throws IOException;
    }

    @FunctionalInterface
    private interface Answer {
        void handle(HttpExchange exchange) throws IOException;
    }

    /** An endpoint that answers before it returns. */
    private static Endpoint answers(Answer answer) {
        return exchange -> {
            answer.handle(exchange);
            return false;
        };
    }

    private record Route(String method, Endpoint endpoint) {
    }

    private final MockLlmConfig config;
    private final Counters counters;
    private final long readyAtNanos;
    private final Map<String, Route> routes;
    // Constant bodies are rendered once; benchmarks poll these.
    private final byte[] healthOk = OpenAiJson.status("ok");
    private final byte[] healthLoading = OpenAiJson.status("loading");
    private final byte[] models;
    private final byte[] model;

    Router(MockLlmConfig config, Counters counters, long readyAtNanos, Pacer pacer) {
        this.config = config;
        this.counters = counters;
        this.readyAtNanos = readyAtNanos;
        this.models = OpenAiJson.models(config.model());
        this.model = OpenAiJson.model(config.model());
        Completions completions = new Completions(config, counters, pacer);
        this.routes = Map.of(
                "/health", new Route("GET", answers(this::health)),
                "/stats", new Route("GET", answers(this::stats)),
                "/v1/models", new Route("GET", answers(exchange -> Exchanges.sendJson(exchange, 200, models))),
                "/v1/chat/completions", new Route("POST", exchange -> completions.handle(exchange, Kind.CHAT)),
                "/v1/completions", new Route("POST", exchange -> completions.handle(exchange, Kind.TEXT)),
                "/v1/embeddings", new Route("POST", answers(this::embeddings)));
    }

    boolean ready() {
        return System.nanoTime() - readyAtNanos >= 0;
    }

    @Override
    public void handle(HttpExchange exchange) {
        boolean handedOver = false;
        try {
            handedOver = dispatch(exchange);
        } catch (ApiException e) {
            fail(exchange, e);
        } catch (IOException e) {
            // The client went away mid-exchange: there is nobody left to answer.
        } catch (RuntimeException e) {
            fail(exchange, new ApiException(500, "internal error: " + e, "server_error", null, null));
        } finally {
            if (!handedOver) {
                exchange.close();
            }
        }
    }

    private boolean dispatch(HttpExchange exchange) throws IOException {
        String path = exchange.getRequestURI().getPath();
        boolean api = path.startsWith("/v1/");
        if (api) {
            counters.request();
        }
        Route route = route(path);
        String method = exchange.getRequestMethod();
        if (route == null) {
            throw new ApiException(404, "Invalid URL (" + method + " " + path + ")",
                    ApiException.INVALID_REQUEST, null, "unknown_url");
        }
        if (!route.method().equals(method)) {
            exchange.getResponseHeaders().set("Allow", route.method());
            throw new ApiException(405, "Method " + method + " is not allowed for " + path + "; use " + route.method(),
                    ApiException.INVALID_REQUEST, null, "method_not_allowed");
        }
        if ((api || path.equals("/stats")) && config.apiKey() != null && !authorized(exchange)) {
            throw new ApiException(401, "Incorrect API key provided", ApiException.INVALID_REQUEST, null, "invalid_api_key");
        }
        if (api && !ready()) {
            throw loading(exchange);
        }
        if (api && config.logRequests()) {
            String id = exchange.getRequestHeaders().getFirst("X-Request-Id");
            System.out.println("request " + (id == null ? "-" : id.replaceAll("[^A-Za-z0-9._:-]", "?")) + " " + method + " " + path);
        }
        return route.endpoint().handle(exchange);
    }

    /** Constant-time comparison, like a real server's key check. */
    private boolean authorized(HttpExchange exchange) {
        String header = exchange.getRequestHeaders().getFirst("Authorization");
        if (header == null || !header.startsWith("Bearer ")) {
            return false;
        }
        return MessageDigest.isEqual(header.substring(7).getBytes(StandardCharsets.UTF_8),
                config.apiKey().getBytes(StandardCharsets.UTF_8));
    }

    private Route route(String path) {
        Route route = routes.get(path);
        if (route == null && path.startsWith(MODELS_PREFIX)) {
            // Model ids may contain slashes (org/name), so take everything after the prefix.
            String id = path.substring(MODELS_PREFIX.length());
            return new Route("GET", answers(exchange -> retrieveModel(exchange, id)));
        }
        return route;
    }

    private void health(HttpExchange exchange) throws IOException {
        if (ready()) {
            Exchanges.sendJson(exchange, 200, healthOk);
        } else {
            setRetryAfter(exchange);
            Exchanges.sendJson(exchange, 503, healthLoading);
        }
    }

    private void stats(HttpExchange exchange) throws IOException {
        Exchanges.sendJson(exchange, 200, OpenAiJson.stats(counters.snapshot()));
    }

    private void retrieveModel(HttpExchange exchange, String id) throws IOException {
        if (!id.equals(config.model())) {
            throw ApiException.modelNotFound(id);
        }
        Exchanges.sendJson(exchange, 200, model);
    }

    private void embeddings(HttpExchange exchange) throws IOException {
        EmbeddingRequest request = EmbeddingRequest.parse(Exchanges.readJsonObject(exchange), config.model());
        counters.embeddingAccepted(request.promptTokens());
        List<float[]> vectors = request.inputs().stream().map(Tokens::embedding).toList();
        Exchanges.sendJson(exchange, 200,
                OpenAiJson.embeddings(config.model(), vectors, request.base64(), request.promptTokens()));
    }

    private ApiException loading(HttpExchange exchange) {
        setRetryAfter(exchange);
        return new ApiException(503, "The model `" + config.model() + "` is still loading; retry shortly.",
                "server_error", null, "model_loading");
    }

    private void setRetryAfter(HttpExchange exchange) {
        long seconds = Math.max(1, (readyAtNanos - System.nanoTime() + 999_999_999) / 1_000_000_000);
        exchange.getResponseHeaders().set("Retry-After", Long.toString(seconds));
    }

    /** Answers with OpenAI error JSON unless a response (e.g. a stream) is already under way. */
    private static void fail(HttpExchange exchange, ApiException error) {
        if (exchange.getResponseCode() != -1) {
            return;
        }
        try {
            Exchanges.sendError(exchange, error);
        } catch (IOException ignored) {
            // The client is gone; the finally block in handle() still closes the exchange.
        }
    }
}
