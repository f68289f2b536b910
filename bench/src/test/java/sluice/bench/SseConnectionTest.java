package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.LongAdder;
import org.junit.jupiter.api.Test;

class SseConnectionTest {
  /** Events split across chunks, a chunk holding two events, chunk extensions: all counted once, on one connection. */
  static final String STREAM = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n"
      + chunk("data: {\"a\":1}\n") + chunk("\ndata: {\"b\":2}\n\n") + "5;x=y\r\ndata:\r\n" + chunk(" {\"c\":3}\n\ndata: [DONE]\n\n")
      + "0\r\n\r\n";
  static final String REFUSED = "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 29\r\n\r\n"
      + "{\"error\":{\"code\":\"overload\"}}";

  static String chunk(String s) {
    return Integer.toHexString(s.getBytes(StandardCharsets.UTF_8).length) + "\r\n" + s + "\r\n";
  }

  @Test void countsEventsAcrossChunksKeepsTheConnectionAndReportsARefusal() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      URI base = URI.create("http://127.0.0.1:" + server.getLocalPort());
      byte[] request = SseConnection.request(base, "sk-test", StreamLoad.body(Api.MODEL, 3, -1));
      CompletableFuture<Integer> served = CompletableFuture.supplyAsync(() -> serve(server, List.of(STREAM, STREAM, REFUSED), request.length));
      LongAdder sink = new LongAdder();
      try (SseConnection c = new SseConnection(base)) {
        StreamLoad.Outcome first = c.stream(request, sink);
        assertNull(first.error(), String.valueOf(first.error()));
        assertEquals(4, first.events());
        assertTrue(first.done());
        assertTrue(first.firstByte() >= first.sent());
        assertNull(c.stream(request, sink).error());
        StreamLoad.Outcome refused = c.stream(request, sink);
        assertEquals(503, refused.status());
        assertEquals("HTTP 503: {\"error\":{\"code\":\"overload\"}}", refused.error());
      }
      assertEquals(8, sink.sum());
      assertEquals(1, served.get(), "one connection for the three requests");
    }
  }

  @Test void aStreamCutShortIsAFailure() throws Exception {
    String cut = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + chunk("data: {\"a\":1}\n\n");
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      URI base = URI.create("http://127.0.0.1:" + server.getLocalPort());
      byte[] request = SseConnection.request(base, "k", "{}");
      CompletableFuture.supplyAsync(() -> serve(server, List.of(cut), request.length));
      try (SseConnection c = new SseConnection(base)) {
        StreamLoad.Outcome o = c.stream(request, new LongAdder());
        assertEquals(1, o.events());
        assertTrue(o.error().contains("closed"), o.error());
        assertTrue(!o.done());
      }
    }
  }

  /** Answers each request (head + body of {@code requestLength} bytes) with the next answer; returns connections used. */
  static int serve(ServerSocket server, List<String> answers, int requestLength) {
    int connections = 0;
    int next = 0;
    try {
      while (next < answers.size()) {
        try (Socket s = server.accept()) {
          connections++;
          InputStream in = s.getInputStream();
          OutputStream out = s.getOutputStream();
          while (next < answers.size()) {
            if (in.readNBytes(requestLength).length < requestLength) break;
            byte[] a = answers.get(next++).getBytes(StandardCharsets.UTF_8);
            // written in two parts so that the client sees a body split between reads
            out.write(a, 0, a.length / 2);
            out.flush();
            out.write(a, a.length / 2, a.length - a.length / 2);
            out.flush();
          }
        }
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
    return connections;
  }

}
