package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.core.cluster.JobSnapshot;
import sluice.core.service.ServiceStatus;

/** A gateway restart recovers its jobs from the journal and re-adopts the running one instead of submitting anew. */
@Timeout(240)
class RestartIT {
  @Test void restartedGatewayReadoptsTheRunningJob() throws Exception {
    Path dir = Files.createTempDirectory("sluice-restart");
    EmbeddedStack.writeAgentConfig(dir);
    var config = EmbeddedStack.config(dir, "sluice.services.slow.min-replicas = 0");
    String job;
    try (Gateway first = Gateway.start(config)) {
      job = EmbeddedStack.awaitReady(first, "mock-llm").replicas().get(0).jobId();
    }                                                             // jobs keep running, as Slurm jobs do

    try (Gateway second = Gateway.start(config)) {
      ServiceStatus s = EmbeddedStack.awaitReady(second, "mock-llm");
      assertEquals(1, s.replicas().size());
      assertEquals(job, s.replicas().get(0).jobId(), "the same job serves after the restart");
      var reply = OpenAIOkHttpClient.builder().apiKey(EmbeddedStack.API_KEY).baseUrl(second.baseUrl() + "/v1").build()
          .chat().completions().create(ChatCompletionCreateParams.builder().model(ChatModel.of("mock-llm"))
              .addUserMessage("still there?").maxCompletionTokens(2).build());
      assertEquals(2, reply.usage().orElseThrow().completionTokens());
      var jobs = second.cluster("local").jobs().toCompletableFuture().get();
      assertEquals(1, jobs.stream().filter(j -> j.service().equals("mock-llm")).count(), "nothing was submitted twice");
      for (JobSnapshot j : jobs) second.cluster("local").cancel(j.jobId()).toCompletableFuture().get();
    }
  }

  /**
   * Keys made through the admin API are in the journal only: after a restart the key index is rebuilt from it (the
   * JDBC read journal's tag query) before the first request, a revoked key stays revoked, the counters of the current
   * windows carry on (saved on shutdown), and the usage records written before are still there.
   */
  @Test void keysLimitsAndUsageSurviveARestart() throws Exception {
    Path dir = Files.createTempDirectory("sluice-restart-accounts");
    EmbeddedStack.writeAgentConfig(dir);
    var config = EmbeddedStack.config(dir, "sluice.services.slow.min-replicas = 0\nsluice.clusters.local.cancel-jobs-on-shutdown = on");
    String kept;
    String revoked;
    try (Gateway first = Gateway.start(config)) {
      EmbeddedStack.awaitReady(first, "mock-llm");
      admin(first, "POST", "/admin/users", "{\"id\":\"carol\",\"limits\":{\"requests\":{\"day\":3}}}", 201);
      kept = JSON.readTree(admin(first, "POST", "/admin/users/carol/keys", "{\"name\":\"kept\"}", 201)).get("key").asText();
      JsonNode gone = JSON.readTree(admin(first, "POST", "/admin/users/carol/keys", "{\"name\":\"gone\"}", 201));
      revoked = gone.get("key").asText();
      admin(first, "DELETE", "/admin/keys/" + gone.get("id").asText(), null, 200);
      assertEquals(200, chat(first, kept));
      assertEquals(200, chat(first, kept));
    }

    try (Gateway second = Gateway.start(config)) {
      EmbeddedStack.awaitReady(second, "mock-llm");
      assertEquals(200, chat(second, kept), "the key works after the restart");
      assertEquals(429, chat(second, kept), "the day's count went on from 2: the 4th request is over the limit of 3");
      assertEquals(401, chat(second, revoked), "a revoked key stays revoked");
      JsonNode usage = JSON.readTree(admin(second, "GET", "/admin/usage?user=carol", null, 200));
      assertEquals(5, usage.at("/totals/requests").asInt(), "2 before the restart, 3 after (200, 429, 401): " + usage);
      assertEquals(2, usage.at("/totals/failed_requests").asInt(), usage.toString());
    }
  }

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private static String admin(Gateway g, String method, String path, String body, int expected) throws Exception {
    var r = HTTP.send(HttpRequest.newBuilder(URI.create(g.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY)
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), method + " " + path + ": " + r.body());
    return r.body();
  }

  private static int chat(Gateway g, String key) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(g.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"mock-llm\",\"max_tokens\":1,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString()).statusCode();
  }
}
