package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
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
import java.util.TreeMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.persistence.testing.TestDatabase;

/**
 * PostgreSQL stopped for 30 s under load and started again, with the gateway left running: every request gets an
 * answer in bounded time (the served ones 200, the refused ones 503 storage_unavailable with Retry-After), the gateway
 * serves again by itself, and every request served has its usage record, those finished during the outage included.
 */
@Timeout(300)
class DatabaseOutagePgIT {
  private static final Duration OUTAGE = Duration.ofSeconds(30);
  private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  record Outcome(int status, String code, Duration took, long atNanos) {}

  @Test void aThirtySecondOutageUnderLoadIsRefusedBrieflyAndLosesNoUsageRecord() throws Exception {
    Path dir = Files.createTempDirectory("sluice-pg-outage");
    EmbeddedStack.writeAgentConfig(dir);
    int port = EmbeddedStack.freePort();
    Path conf = CrashDrill.writeConfig(dir, """
        sluice {
          data-dir = "%s"
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          http.port = %d
          storage.probe-interval = 500ms
          usage.flush-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms }
          services { mock-llm { cluster = local, max-inflight-per-replica = 8 } }
        }
        """.formatted(dir.resolve("data"), EmbeddedStack.freePort(), EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY, port,
        dir.resolve("agent.json"))
        + TestDatabase.POSTGRES.hocon(dir.resolve("data")));
    Path jobsDir = dir.resolve("agent/jobs");
    GatewayProcess gateway = new GatewayProcess(conf, dir.resolve("gateway.log"), port);
    List<ProcessHandle> spawned = new ArrayList<>();
    ConcurrentLinkedQueue<Outcome> outcomes = new ConcurrentLinkedQueue<>();
    AtomicBoolean sending = new AtomicBoolean(true);
    ExecutorService clients = Executors.newFixedThreadPool(4);
    boolean serverStopped = false;
    try {
      gateway.start("mock-llm", Duration.ofSeconds(150));
      spawned.addAll(gateway.handle().descendants().toList());
      String base = gateway.baseUrl();
      for (int c = 0; c < 4; c++) {
        clients.submit(() -> {
          while (sending.get()) outcomes.add(request(base));
          return null;
        });
      }
      Await.until(Duration.ofSeconds(30), "20 requests served before the outage", () -> ok(outcomes) >= 20);

      long stoppedAt = System.nanoTime();
      TestDatabase.stopServer();
      serverStopped = true;
      Await.until(Duration.ofSeconds(20), "requests to be refused while the database is down",
          () -> outcomes.stream().anyMatch(o -> o.status() == 503 && o.atNanos() > stoppedAt));
      Thread.sleep(Math.max(0, OUTAGE.toMillis() - (System.nanoTime() - stoppedAt) / 1_000_000));   // the outage itself
      long startedAt = System.nanoTime();
      TestDatabase.startServer();
      serverStopped = false;
      Await.until(Duration.ofSeconds(90), "requests served again after the database came back",
          () -> outcomes.stream().anyMatch(o -> o.status() == 200 && o.atNanos() > startedAt));
      long back = outcomes.stream().filter(o -> o.status() == 200 && o.atNanos() > startedAt)
          .mapToLong(Outcome::atNanos).min().orElseThrow();
      Await.until(Duration.ofSeconds(30), "20 more served", () -> outcomes.stream()
          .filter(o -> o.status() == 200 && o.atNanos() > startedAt).count() >= 20);
      sending.set(false);
      clients.shutdown();
      assertTrue(clients.awaitTermination(90, TimeUnit.SECONDS), "the clients finished");

      Map<String, Integer> answers = new TreeMap<>();
      for (Outcome o : outcomes) answers.merge(o.status() + " " + o.code(), 1, Integer::sum);
      Duration slowest = outcomes.stream().map(Outcome::took).max(Duration::compareTo).orElseThrow();
      System.out.printf("PG OUTAGE: %d requests, answers %s, slowest %d ms, served again %.1f s after the database "
          + "started (%.1f s after it stopped)%n", outcomes.size(), answers, slowest.toMillis(),
          (back - startedAt) / 1e9, (back - stoppedAt) / 1e9);
      assertTrue(gateway.isAlive(), "no restart");
      for (Outcome o : outcomes) {
        assertTrue(o.status() == 200 || (o.status() == 503 && o.code().equals("storage_unavailable")),
            "served, or refused as storage_unavailable: " + answers);
      }
      assertTrue(slowest.compareTo(Duration.ofSeconds(20)) < 0, "no request hung: the slowest took " + slowest.toMillis() + " ms");
      long served = ok(outcomes);
      Await.until(Duration.ofSeconds(30), "a usage record for each of the " + served + " requests served", () -> {
        JsonNode totals = admin(base, "/admin/usage").get("totals");
        return totals.get("requests").asLong() - totals.get("failed_requests").asLong() == served;
      });
    } catch (Throwable t) {
      System.err.println(gateway.logTail(120));
      throw t;
    } finally {
      sending.set(false);
      clients.shutdownNow();
      if (serverStopped) TestDatabase.startServer();                   // the other tests share the server
      CrashRestartIT.cleanUp(jobsDir, spawned, gateway);
    }
  }

  private static long ok(ConcurrentLinkedQueue<Outcome> outcomes) { return outcomes.stream().filter(o -> o.status() == 200).count(); }

  private static Outcome request(String base) {
    long start = System.nanoTime();
    try {
      HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions"))
          .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(CLIENT_TIMEOUT)
          .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"mock-llm\",\"max_tokens\":5,"
              + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}")).build(), HttpResponse.BodyHandlers.ofString());
      String code = r.statusCode() == 200 ? "" : CrashDrill.JSON.readTree(r.body()).at("/error/code").asText();
      if (r.statusCode() == 503) Thread.sleep(100);                   // a client that backs off a little, as SDKs do
      return new Outcome(r.statusCode(), code, Duration.ofNanos(System.nanoTime() - start), System.nanoTime());
    } catch (Exception e) {
      return new Outcome(-1, e.getClass().getSimpleName(), Duration.ofNanos(System.nanoTime() - start), System.nanoTime());
    }
  }

  private static JsonNode admin(String base, String path) throws Exception {
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(base + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return CrashDrill.JSON.readTree(r.body());
  }
}
