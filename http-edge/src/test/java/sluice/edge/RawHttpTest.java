package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.Test;

/**
 * The raw client reads one answer at a time: answers to pipelined requests that arrive in one TCP segment are two
 * answers, not one (HostileClientIT once failed waiting for a second answer the first read had already taken).
 */
class RawHttpTest {

  @Test void twoAnswersInOneSegmentAreTwoAnswers() throws Exception {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Void> served = CompletableFuture.runAsync(() -> {
        try (Socket s = server.accept()) {
          InputStream in = s.getInputStream();
          byte[] request = new byte[2];
          int got = 0;
          while (got < request.length) got += in.read(request, got, request.length - got);
          // Both answers in a single write, as a server answering a pipelined pair at once sends them.
          s.getOutputStream().write(("HTTP/1.1 413 Payload Too Large\r\nContent-Length: 5\r\n\r\nfirst"
              + "HTTP/1.1 200 OK\r\nContent-Length: 6\r\n\r\nsecond").getBytes(StandardCharsets.ISO_8859_1));
          s.getOutputStream().flush();
          in.read();                                           // hold the connection until the client is done
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });
      List<RawHttp.Response> answers = RawHttp.conversation(server.getLocalPort(), List.of("a", "b"), Duration.ofMillis(200), 2);
      assertEquals(413, answers.get(0).status());
      assertEquals("first", answers.get(0).body());
      assertEquals(200, answers.get(1).status());
      assertEquals("second", answers.get(1).body());
      served.join();
    }
  }
}
