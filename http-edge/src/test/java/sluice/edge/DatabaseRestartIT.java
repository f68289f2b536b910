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
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.agent.testing.Await;
import sluice.edge.CrashRestartIT.LocalJobs;
import sluice.persistence.testing.TestDatabase;

/**
 * A gateway on each database (the embedded H2 file, and PostgreSQL as production runs it) serves, is killed with
 * SIGKILL and started again: the job is adopted again with no new submission, and everything the admin API and the
 * traffic wrote is there: users, keys, a revoked key, the limit counters and the usage records.
 */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
@Timeout(300)
class DatabaseRestartIT {
  private static final Duration READY_WAIT = Duration.ofSeconds(150);
  private static final Duration CHECKPOINT = Duration.ofMillis(300);
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Parameter TestDatabase database;

  @Test void keysCountersUsageAndTheJobSurviveAKill9() throws Exception {
    Path dir = Files.createTempDirectory("sluice-db-restart");
    EmbeddedStack.writeAgentConfig(dir);
    int port = EmbeddedStack.freePort();
    Path conf = CrashDrill.writeConfig(dir, """
        sluice {
          data-dir = "%s"
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          http.port = %d
          users.checkpoint-interval = %dms
          usage.flush-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms }
          services { mock-llm { cluster = local, max-inflight-per-replica = 8 } }
        }
        """.formatted(dir.resolve("data"), EmbeddedStack.freePort(), EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY, port,
        CHECKPOINT.toMillis(), dir.resolve("agent.json"))
        + database.hocon(dir.resolve("data")));
    Path jobsDir = dir.resolve("agent/jobs");
    GatewayProcess first = new GatewayProcess(conf, dir.resolve("gateway-1.log"), port);
    GatewayProcess second = new GatewayProcess(conf, dir.resolve("gateway-2.log"), port);
    List<ProcessHandle> spawned = new ArrayList<>();
    try {
      first.start("mock-llm", READY_WAIT);
      String base = first.baseUrl();
      admin(base, "POST", "/admin/users", "{\"id\":\"alice\",\"limits\":{\"requests\":{\"day\":100}}}", 201);
      String kept = admin(base, "POST", "/admin/users/alice/keys", "{\"name\":\"kept\"}", 201).get("key").asText();
      JsonNode doomed = admin(base, "POST", "/admin/users/alice/keys", "{\"name\":\"revoked\"}", 201);
      admin(base, "DELETE", "/admin/keys/" + doomed.get("id").asText(), null, 200);
      for (int i = 0; i < 3; i++) assertEquals(200, chat(base, kept).statusCode());
      assertEquals("96", chat(base, kept).headers().firstValue("x-ratelimit-remaining-requests-day").orElseThrow());
      Await.until(Duration.ofSeconds(20), "the four usage records to be stored",
          () -> admin(base, "GET", "/admin/usage?user=alice", null, 200).at("/totals/requests").asLong() == 4);
      Set<String> jobs = CrashDrill.routableJobs(base, "mock-llm");
      long nextId = LocalJobs.nextId(jobsDir);
      spawned.addAll(first.handle().descendants().toList());
      // The counters are saved every checkpoint-interval; a kill -9 loses at most one interval. This waits out several.
      Thread.sleep(CHECKPOINT.multipliedBy(5).toMillis());

      first.kill9();
      second.start("mock-llm", READY_WAIT);
      spawned.addAll(second.handle().descendants().toList());
      String again = second.baseUrl();

      assertEquals(jobs, CrashDrill.routableJobs(again, "mock-llm"), "the same job serves after the restart");
      assertEquals(nextId, LocalJobs.nextId(jobsDir), "zero new submissions");
      HttpResponse<String> served = chat(again, kept);
      assertEquals(200, served.statusCode(), served.body());
      assertEquals("95", served.headers().firstValue("x-ratelimit-remaining-requests-day").orElseThrow(),
          "the day's counter went on from 4 requests");
      HttpResponse<String> refused = chat(again, doomed.get("key").asText());
      assertEquals(401, refused.statusCode());
      assertEquals("key_revoked", CrashDrill.JSON.readTree(refused.body()).at("/error/code").asText());
      // The four from before the kill and the one after, served; the revoked key's refusal is recorded too.
      JsonNode totals = Await.until(Duration.ofSeconds(20), "the records from before and after the kill",
          () -> admin(again, "GET", "/admin/usage?user=alice", null, 200).get("totals"),
          t -> t.get("requests").asLong() - t.get("failed_requests").asLong() == 5);
      assertEquals(6, totals.get("requests").asLong(), totals.toString());
      JsonNode user = admin(again, "GET", "/admin/users/alice", null, 200);
      assertEquals(2, user.get("keys").size(), user.toString());
      for (GatewayProcess g : List.of(first, second)) {
        String log = Files.readString(g.log());
        assertTrue(!log.contains(TestDatabase.ROLE_PASSWORD) && !log.contains(kept), "no secret in " + g.log());
      }
    } catch (Throwable t) {
      System.err.println(first.logTail(80));
      System.err.println(second.logTail(80));
      throw t;
    } finally {
      CrashRestartIT.cleanUp(jobsDir, spawned, first, second);
    }
  }

  private static HttpResponse<String> chat(String base, String key) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(base + "/v1/chat/completions")).header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"mock-llm\",\"max_tokens\":5,"
            + "\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}")).timeout(Duration.ofSeconds(30)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static JsonNode admin(String base, String method, String path, String body, int status) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + path)).header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY)
        .timeout(Duration.ofSeconds(30));
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(status, r.statusCode(), method + " " + path + ": " + r.body());
    return CrashDrill.JSON.readTree(r.body());
  }
}
