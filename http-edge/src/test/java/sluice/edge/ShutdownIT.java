package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.persistence.usage.UsageFilter;
import sluice.persistence.usage.UsageRecord;
import sluice.persistence.usage.UsageStore;

/**
 * SIGTERM with ten streams in flight, as an operator's {@code systemctl stop} or a rolling upgrade sends it: the port
 * stops taking requests at once, streams that end within {@code shutdown-deadline} end normally with {@code [DONE]},
 * those still open at the deadline end with an in-band {@code server_shutdown} error event, none is cut by a reset,
 * and every one has its usage record, written before the database closed.
 */
@Timeout(240)
class ShutdownIT {
  private static final Duration DEADLINE = Duration.ofSeconds(6);
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();
  /** One reader thread per stream (the common pool has a single thread on a 2-core machine). */
  private static final ExecutorService READERS = Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "stream-reader");
    t.setDaemon(true);
    return t;
  });

  /** How one stream ended, as its client saw it. */
  record Ending(String model, List<String> events, String failure, long endedNanos) {
    String last() { return events.isEmpty() ? "(no event)" : events.get(events.size() - 1); }
  }

  @Test void sigtermLetsStreamsEndInBandAndRecordsThemAll() throws Exception {
    Path dir = Files.createTempDirectory("sluice-shutdown");
    // "medium": 100 tokens, 20 ms each: a stream of 2 s, in flight at SIGTERM and done well before the deadline.
    EmbeddedStack.writeAgentConfig(dir, Map.of("medium", EmbeddedStack.service(EmbeddedStack.mockLlm(),
        "--token-delay-ms 20 --tokens 100", "15")));
    int port = EmbeddedStack.freePort();
    int management = EmbeddedStack.freePort();
    Path config = dir.resolve("gateway.conf");
    Files.writeString(config, """
        sluice {
          data-dir = "%s"
          http { port = %d, sse-keep-alive = 300ms, shutdown-deadline = %ds }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms, cancel-jobs-on-shutdown = on }
          services {
            mock-llm { cluster = local, min-replicas = 0 }
            medium { cluster = local, max-inflight-per-replica = 16 }
            slow { cluster = local, max-inflight-per-replica = 16 }
          }
        }
        pekko.coordinated-shutdown.exit-jvm = on
        """.formatted(dir.resolve("data"), port, DEADLINE.toSeconds(), management, EmbeddedStack.ADMIN_KEY,
        EmbeddedStack.API_KEY, dir.resolve("agent.json")));
    GatewayProcess gateway = new GatewayProcess(config, dir.resolve("gateway.log"), port);
    try {
      gateway.start("medium", Duration.ofSeconds(120));
      gateway.awaitReady("slow", Duration.ofSeconds(120));

      // Five streams that end about two seconds after SIGTERM, five that would go on for minutes.
      List<CompletableFuture<Ending>> streams = new ArrayList<>();
      CountDownLatch started = new CountDownLatch(10);
      for (int i = 0; i < 5; i++) streams.add(stream(gateway, "medium", 100, started));
      for (int i = 0; i < 5; i++) streams.add(stream(gateway, "slow", 300, started));
      assertTrue(started.await(60, TimeUnit.SECONDS), "every stream sent its first event");

      long term = System.nanoTime();
      gateway.handle().destroy();                                         // SIGTERM
      Await.until(Duration.ofSeconds(2), "/ready to turn false", () -> ready(management), s -> s != 200);
      long notReady = System.nanoTime();
      Await.until(Duration.ofSeconds(3), "the API port to stop accepting connections", () -> !accepts(port));

      List<Ending> endings = new ArrayList<>();
      for (CompletableFuture<Ending> s : streams) endings.add(s.get(60, TimeUnit.SECONDS));
      assertTrue(gateway.handle().onExit().get(60, TimeUnit.SECONDS) != null);
      long exited = System.nanoTime();

      for (Ending e : endings) {
        assertEquals(null, e.failure(), "no stream is cut: " + e);
        if (e.model().equals("medium")) {
          assertEquals("[DONE]", e.last(), "a stream shorter than the deadline runs to its end: " + e.last());
        } else {
          assertTrue(e.last().contains("\"code\":\"server_shutdown\""), "the last event says why it ended: " + e.last());
          long after = TimeUnit.NANOSECONDS.toMillis(e.endedNanos() - term);
          assertTrue(after >= DEADLINE.toMillis() - 2500 && after <= DEADLINE.toMillis() + 1000,
              "ended at the deadline, " + after + " ms after SIGTERM");
        }
      }

      List<UsageRecord> records;
      try (UsageStore store = UsageStore.open(Main.load(config, Map.of()))) {
        records = store.records(UsageFilter.all(), 100);
      }
      List<UsageRecord> streamed = records.stream().filter(r -> r.stream()).toList();
      assertEquals(10, streamed.size(), "a record for every stream: " + records);
      for (UsageRecord r : streamed) {
        assertFalse(r.clientDisconnected(), "no client went away: " + r);
        if (r.model().equals("slow")) {
          assertTrue(r.serverShutdown(), r.toString());
          assertEquals(503, r.status(), r.toString());
          assertTrue(r.completionTokens() > 0, "billed for what was sent: " + r);
        } else {
          assertFalse(r.serverShutdown(), r.toString());
          assertEquals(200, r.status(), r.toString());
          assertEquals(100, r.completionTokens(), r.toString());
        }
      }
      System.out.printf("SIGTERM: not ready after %d ms; streams at the deadline ended after %s ms; exited after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(notReady - term),
          endings.stream().filter(e -> e.model().equals("slow")).map(e -> TimeUnit.NANOSECONDS.toMillis(e.endedNanos() - term)).toList(),
          TimeUnit.NANOSECONDS.toMillis(exited - term));
    } catch (Throwable t) {
      System.err.println(gateway.logTail(80));
      throw t;
    } finally {
      gateway.close();
    }
  }

  /** A streaming chat completion read event by event on its own thread; {@code started} counts its first event. */
  private static CompletableFuture<Ending> stream(GatewayProcess g, String model, int tokens, CountDownLatch started) {
    return CompletableFuture.supplyAsync(() -> {
      List<String> events = new ArrayList<>();
      try {
        HttpResponse<java.util.stream.Stream<String>> r = HTTP.send(HttpRequest.newBuilder(URI.create(g.baseUrl() + "/v1/chat/completions"))
            .header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
            .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"" + model + "\",\"stream\":true,\"max_tokens\":" + tokens
                + ",\"messages\":[{\"role\":\"user\",\"content\":\"go on\"}]}")).build(),
            HttpResponse.BodyHandlers.ofLines());
        if (r.statusCode() != 200) return new Ending(model, events, "status " + r.statusCode(), System.nanoTime());
        boolean first = true;
        for (String line : (Iterable<String>) r.body()::iterator) {
          if (!line.startsWith("data: ")) continue;
          events.add(line.substring(6));
          if (first) {
            started.countDown();
            first = false;
          }
        }
        return new Ending(model, events, null, System.nanoTime());
      } catch (IOException | UncheckedIOException | InterruptedException e) {
        return new Ending(model, events, e.toString(), System.nanoTime());
      }
    }, READERS);
  }

  private static int ready(int port) {
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready"))
          .timeout(Duration.ofSeconds(2)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (IOException | InterruptedException e) {
      return -1;                                                          // not listening: not ready either
    }
  }

  private static boolean accepts(int port) {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 500);
      return true;
    } catch (IOException e) {
      return false;
    }
  }
}
