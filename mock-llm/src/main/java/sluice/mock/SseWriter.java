package sluice.mock;

import com.sun.net.httpserver.HttpExchange;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/** Server-sent events over a chunked response, one flushed chunk per event so clients see tokens live. */
final class SseWriter {

    private static final byte[] DATA = "data: ".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] END = "\n\n".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);

    private final OutputStream out;

    private SseWriter(OutputStream out) {
        this.out = out;
    }

    /** Sends the 200 header; length 0 tells the JDK server to use chunked transfer encoding. */
    static SseWriter open(HttpExchange exchange) throws IOException {
        exchange.getResponseHeaders().set("Content-Type", "text/event-stream");
        exchange.getResponseHeaders().set("Cache-Control", "no-cache");
        exchange.sendResponseHeaders(200, 0);
        return new SseWriter(exchange.getResponseBody());
    }

    /** Throws IOException once the client has gone away; that is the signal to stop generating. */
    void event(byte[] json) throws IOException {
        out.write(DATA);
        out.write(json);
        out.write(END);
        out.flush();
    }

    /** Writes the terminator and ends the chunked body, which frees the connection for keep-alive. */
    void done() throws IOException {
        out.write(DONE);
        out.close();
    }
}
