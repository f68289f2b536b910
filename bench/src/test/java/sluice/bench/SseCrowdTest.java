package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;
import sluice.bench.StreamLoad.Outcome;

class SseCrowdTest {
  /**
   * The server answers none of the streams until all of them are connected and have sent their request, so they can
   * only all succeed if the one client thread holds them open at once.
   */
  @Test void holdsHundredsOfStreamsOpenAtOnceOnOneThread() throws Exception {
    int n = 300;
    try (ServerSocket server = new ServerSocket(0, n + 10, InetAddress.getLoopbackAddress())) {
      URI base = URI.create("http://127.0.0.1:" + server.getLocalPort());
      byte[] request = SseConnection.request(base, "sk-test", StreamLoad.body(Api.MODEL, 3, 1000));
      CompletableFuture<Void> served = CompletableFuture.runAsync(() -> answerAllAtOnce(server, n, request.length,
          SseConnectionTest.STREAM));
      int threadsBefore = Thread.activeCount();
      List<CompletableFuture<Outcome>> streams = new ArrayList<>();
      try (SseCrowd crowd = new SseCrowd(base, "test-crowd")) {
        for (int i = 0; i < n; i++) streams.add(crowd.open(request, Duration.ofSeconds(30)));
        assertTrue(Thread.activeCount() <= threadsBefore + 2, "no thread per stream: " + Thread.activeCount());
        for (CompletableFuture<Outcome> s : streams) {
          Outcome o = s.get();
          assertNull(o.error(), o.error());
          assertEquals(4, o.events());
          assertTrue(o.done());
          assertTrue(o.firstByte() >= o.sent() && o.end() >= o.firstByte());
        }
        assertEquals(4L * n, crowd.events());
      }
      served.get();
    }
  }

  @Test void reportsARefusalACutStreamASilentServerAndARefusedConnection() throws Exception {
    String cut = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n" + SseConnectionTest.chunk("data: {\"a\":1}\n\n");
    try (ServerSocket refusing = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
         ServerSocket cutting = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
         ServerSocket silent = new ServerSocket(0, 5, InetAddress.getLoopbackAddress())) {
      byte[] request = SseConnection.request(URI.create("http://127.0.0.1:1"), "k", "{}");
      CompletableFuture.runAsync(() -> answerAllAtOnce(refusing, 1, request.length, SseConnectionTest.REFUSED));
      CompletableFuture.runAsync(() -> answerAllAtOnce(cutting, 1, request.length, cut));
      int closedPort;
      try (ServerSocket gone = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        closedPort = gone.getLocalPort();
      }
      try (SseCrowd toRefusing = new SseCrowd(uri(refusing), "test-refusing");
           SseCrowd toCutting = new SseCrowd(uri(cutting), "test-cutting");
           SseCrowd toSilent = new SseCrowd(uri(silent), "test-silent");
           SseCrowd toNobody = new SseCrowd(URI.create("http://127.0.0.1:" + closedPort), "test-nobody")) {
        Outcome refused = toRefusing.open(request, Duration.ofSeconds(30)).get();
        assertEquals(503, refused.status());
        assertEquals("HTTP 503: {\"error\":{\"code\":\"overload\"}}", refused.error());

        Outcome cutShort = toCutting.open(request, Duration.ofSeconds(30)).get();
        assertEquals(1, cutShort.events());
        assertEquals("IOException: connection closed mid-answer", cutShort.error());

        Outcome unanswered = toSilent.open(request, Duration.ofMillis(300)).get();
        assertEquals("no end within 300 ms", unanswered.error());
        assertEquals(0, unanswered.firstByte());

        Outcome noServer = toNobody.open(request, Duration.ofSeconds(30)).get();
        assertTrue(noServer.error().startsWith("ConnectException"), noServer.error());
      }
    }
  }

  private static URI uri(ServerSocket s) {
    return URI.create("http://127.0.0.1:" + s.getLocalPort());
  }

  /** Accepts {@code n} connections and reads each one's request; then writes {@code answer} to all and closes them. */
  static void answerAllAtOnce(ServerSocket server, int n, int requestLength, String answer) {
    List<Socket> open = new ArrayList<>();
    try {
      for (int i = 0; i < n; i++) {
        Socket s = server.accept();
        open.add(s);
        if (s.getInputStream().readNBytes(requestLength).length < requestLength) throw new IOException("short request");
      }
      byte[] a = answer.getBytes(StandardCharsets.UTF_8);
      for (Socket s : open) {
        OutputStream out = s.getOutputStream();
        out.write(a, 0, a.length / 2);
        out.flush();
      }
      for (Socket s : open) {
        s.getOutputStream().write(a, a.length / 2, a.length - a.length / 2);
        s.close();
      }
    } catch (IOException e) {
      throw new IllegalStateException(e);
    }
  }
}
