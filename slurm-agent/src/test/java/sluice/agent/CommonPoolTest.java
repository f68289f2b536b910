package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.ChildJvm;

/**
 * The agent's HTTP client hands every response to CompletableFuture's default executor. On a login node with fewer than
 * three cores that is a new thread per request unless the agent gives the common pool two threads.
 */
class CommonPoolTest {
  private static final int REQUESTS = 40;

  @Test void onTwoCoresTheAgentsHttpClientStartsNoThreadPerRequest() throws Exception {
    int withoutHelper = threadsStartedOnTwoProcessors(false);
    assertTrue(withoutHelper >= REQUESTS, "the JDK's own default, the reason for the helper: " + withoutHelper + " threads");
    int withHelper = threadsStartedOnTwoProcessors(true);
    assertTrue(withHelper < 10, withHelper + " threads started for " + REQUESTS + " requests");
  }

  private static int threadsStartedOnTwoProcessors(boolean helper) throws Exception {
    return ChildJvm.lastNumber(List.of("-XX:ActiveProcessorCount=2"), Requests.class, Boolean.toString(helper));
  }

  /** Run in the child JVM: {@value REQUESTS} requests sent as the agent sends them; prints the threads they started. */
  public static final class Requests {
    public static void main(String[] args) throws Exception {
      if (Boolean.parseBoolean(args[0])) AgentMain.atLeastTwoCommonPoolThreads();
      HttpServer server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
      server.createContext("/", x -> {
        x.sendResponseHeaders(200, -1);
        x.close();
      });
      server.start();
      ExecutorService io = Executors.newFixedThreadPool(2);
      HttpClient http = HttpClient.newBuilder().executor(io).build();
      URI uri = URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/");
      http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.discarding());   // the client's own threads
      long before = ManagementFactory.getThreadMXBean().getTotalStartedThreadCount();
      List<CompletableFuture<?>> all = new ArrayList<>();
      for (int i = 0; i < REQUESTS; i++) {
        all.add(http.sendAsync(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.discarding()));
      }
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(30, TimeUnit.SECONDS);
      System.out.println(ManagementFactory.getThreadMXBean().getTotalStartedThreadCount() - before);
      System.exit(0);
    }
  }
}
