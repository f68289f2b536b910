package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.Test;

/** The per-second count of 200s that the start target reads from the path warm-up. */
class ClosedLoopTest {
  static ClosedLoop.Result against(int status) throws Exception {
    HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 64);
    server.setExecutor(Executors.newFixedThreadPool(2));
    server.createContext("/", x -> {
      x.getRequestBody().readAllBytes();
      byte[] body = "{}".getBytes(StandardCharsets.UTF_8);
      x.sendResponseHeaders(status, body.length);
      x.getResponseBody().write(body);
      x.close();
    });
    server.start();
    try {
      URI base = URI.create("http://127.0.0.1:" + server.getAddress().getPort());
      return ClosedLoop.run(Api.client(), Api.chat(base), 2, Duration.ofSeconds(1), Duration.ofSeconds(1), () -> Sample.take(Set.of()));
    } finally {
      server.stop(0);
    }
  }

  @Test void countsTheAnswersOfEverySecondWarmUpIncluded() throws Exception {
    ClosedLoop.Result r = against(200);
    assertEquals(2, r.perSecond().size(), r.perSecond().toString());
    assertTrue(r.perSecond().stream().allMatch(n -> n > 0), r.perSecond().toString());
    // the window's requests are the second second's (give or take the answers that ended right at its edges)
    long all = r.perSecond().stream().mapToLong(Long::longValue).sum();
    assertTrue(all >= r.requests() && r.requests() > 0, all + " vs " + r.requests());
  }

  @Test void onlyTwoHundredsCount() throws Exception {
    ClosedLoop.Result r = against(503);
    assertEquals(List.of(0L, 0L), r.perSecond());
    assertTrue(r.errors() > 0);
  }
}
