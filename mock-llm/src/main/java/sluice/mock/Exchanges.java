package sluice.mock;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;

/** Small HTTP helpers shared by the endpoints. */
final class Exchanges {

    /** Far above any realistic prompt, low enough that a runaway client cannot exhaust the heap. */
    static final int MAX_BODY_BYTES = 32 * 1024 * 1024;

    private Exchanges() {
    }

    /** Reads the whole body: a keep-alive connection is only reusable once the request is consumed. */
    static byte[] readBody(HttpExchange exchange) throws IOException {
        try (InputStream in = exchange.getRequestBody()) {
            byte[] body = in.readNBytes(MAX_BODY_BYTES + 1);
            if (body.length > MAX_BODY_BYTES) {
                throw new ApiException(413, "request body exceeds " + MAX_BODY_BYTES + " bytes",
                        ApiException.INVALID_REQUEST, null, "request_too_large");
            }
            return body;
        }
    }

    static JsonNode readJsonObject(HttpExchange exchange) throws IOException {
        byte[] body = readBody(exchange);
        JsonNode node;
        try {
            node = OpenAiJson.MAPPER.readTree(body);
        } catch (JsonProcessingException e) {
            throw ApiException.invalid(null,
                    "We could not parse the JSON body of your request: " + e.getOriginalMessage());
        }
        if (node == null || !node.isObject()) {
            throw ApiException.invalid(null, "the request body must be a JSON object");
        }
        return node;
    }

    /** Sends a complete JSON body with a fixed Content-Length (never chunked) and closes the stream. */
    static void sendJson(HttpExchange exchange, int status, byte[] body) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(status, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
        }
    }

    static void sendError(HttpExchange exchange, ApiException error) throws IOException {
        sendJson(exchange, error.status(),
                OpenAiJson.error(error.getMessage(), error.type(), error.param(), error.code()));
    }
}
