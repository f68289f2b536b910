package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.ChildJvm;

/**
 * After a burst of streams the agent's HTTP client keeps at most {@link AgentMain#HTTP_POOL_SIZE} idle connections to
 * the model server; the JDK's own client keeps every one of them (for 20 minutes).
 */
class IdleConnectionsTest {
  private static final int AT_ONCE = 300;

  @Test void aBurstLeavesAtMostThePoolSizeOfIdleConnectionsToTheModelServer() throws Exception {
    int pool = Integer.parseInt(AgentMain.HTTP_POOL_SIZE);
    assertTrue(pool < AT_ONCE);
    int jdkDefault = openSocketsAfterBurst(false);
    assertTrue(jdkDefault >= 2 * AT_ONCE, "the JDK's own pool keeps both ends of every connection: " + jdkDefault);
    int agent = openSocketsAfterBurst(true);
    assertTrue(agent <= 2 * pool + 4, agent + " sockets open after " + AT_ONCE + " exchanges at once, pool " + pool);
  }

  private static int openSocketsAfterBurst(boolean agentDefaults) throws Exception {
    // The JDK's server would close idle connections past 200 on its own; a model server may keep them all.
    return ChildJvm.lastNumber(List.of("-Dsun.net.httpserver.maxIdleConnections=1000"), Burst.class,
        Boolean.toString(agentDefaults));
  }

  /** Run in the child JVM: {@value AT_ONCE} exchanges open at once, then the sockets still open once they settle. */
  public static final class Burst {
    public static void main(String[] args) throws Exception {
      if (Boolean.parseBoolean(args[0])) AgentMain.httpClientDefaults();
      CountDownLatch allArrived = new CountDownLatch(AT_ONCE);
      HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), AT_ONCE);
      server.setExecutor(Executors.newCachedThreadPool());
      server.createContext("/", x -> {
        allArrived.countDown();               // every exchange holds its connection until all of them are open
        try {
          allArrived.await(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
        x.sendResponseHeaders(200, -1);
        x.close();
      });
      server.start();
      ExecutorService io = Executors.newFixedThreadPool(2);
      HttpClient http = HttpClient.newBuilder().executor(io).build();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (int i = 0; i < AT_ONCE; i++) {
        all.add(http.sendAsync(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.discarding()));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      // Connections go back to the pool (or are closed) after their exchange: wait until the count stops changing.
      int last = -1;
      int now = openSockets();
      for (int i = 0; i < 100 && now != last; i++) {
        Thread.sleep(100);
        last = now;
        now = openSockets();
      }
      System.out.println(now);
      System.exit(0);
    }

    private static int openSockets() throws IOException {
      int n = 0;
      try (Stream<Path> fds = Files.list(Path.of("/proc/self/fd"))) {
        for (Path fd : (Iterable<Path>) fds::iterator) {
          try {
            if (Files.readSymbolicLink(fd).toString().startsWith("socket:")) n++;
          } catch (IOException gone) {
            // closed while listed
          }
        }
      }
      return n;
    }
  }
}
