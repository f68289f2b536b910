package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.openai.client.OpenAIClient;
import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.core.http.StreamResponse;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletion;
import com.openai.models.chat.completions.ChatCompletionChunk;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import com.typesafe.config.ConfigFactory;
import java.io.BufferedReader;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;
import sluice.core.service.ServiceStatus;

/**
 * The production path, for real: openai-java → gateway → SSH (sshj) → OpenSSH sshd → forced-command agent →
 * sbatch/squeue on a real Slurm cluster → mock-llm running as a Slurm job → streamed back. Then the tunnel is broken
 * in every way we can on one machine, and it must recover without leaving a client hanging.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class SshSlurmHpcIT {
  static HpcSandbox sandbox;
  static Path dir;
  static Gateway gateway;
  static OpenAIClient openai;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String DEPLOYMENT = "ssh-it";

  @BeforeAll static void start() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
    dir = Files.createTempDirectory("sluice-ssh-it");
    gateway = Gateway.start(ConfigFactory.load(ConfigFactory.parseString("""
        sluice {
          deployment = "%s"
          data-dir = "%s"
          http { port = 0, sse-keep-alive = 300ms, sse-commit-after = 400ms }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 300ms
          tunnel-sample-interval = 300ms
          %s
          services {
            mock-llm { cluster = hpc, max-inflight-per-replica = 16 }
            slow { cluster = hpc }
          }
        }
        """.formatted(DEPLOYMENT, dir.resolve("data"), EmbeddedStack.freePort(), EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY,
        EmbeddedStack.hpcCluster(sandbox, true)))
        .withFallback(ConfigFactory.parseResourcesAnySyntax("application"))));
    openai = OpenAIOkHttpClient.builder().apiKey(EmbeddedStack.API_KEY).baseUrl(gateway.baseUrl() + "/v1")
        .maxRetries(0).timeout(Duration.ofSeconds(60)).build();
    EmbeddedStack.awaitReady(gateway, "mock-llm");
    EmbeddedStack.awaitReady(gateway, "slow");
  }

  @AfterAll static void stop() throws Exception {
    if (gateway != null) gateway.close();
    if (sandbox != null) {
      // cancel-jobs-on-shutdown did it; make sure, so no test leaves a job behind for the next.
      for (String line : squeue()) sandbox.slurm("scancel", line.split("\\|")[0]);
    }
  }

  /** This deployment's jobs as Slurm itself lists them: id|name|state|comment. */
  static List<String> squeue() throws Exception {
    List<String> out = new ArrayList<>();
    for (String line : sandbox.slurm("squeue", "-h", "-u", sandbox.sshUser(), "-o", "%i|%j|%T|%k").split("\n")) {
      if (line.contains("|" + DEPLOYMENT + ".")) out.add(line.trim());
    }
    return out;
  }

  private static ChatCompletionCreateParams chat(String model, String text, long maxTokens) {
    return ChatCompletionCreateParams.builder().model(ChatModel.of(model)).addUserMessage(text).maxCompletionTokens(maxTokens).build();
  }

  @Test @Order(1) void theServicesJobsRunInSlurmAndServeTheOpenAiClientThroughTheTunnel() throws Exception {
    List<String> jobs = squeue();
    assertEquals(2, jobs.size(), "one job per service, min-replicas 1: " + jobs);
    for (String job : jobs) assertTrue(job.contains("|RUNNING|"), job);
    assertTrue(jobs.stream().anyMatch(j -> j.contains("service=mock-llm")), jobs.toString());
    ServiceStatus status = gateway.services().status("mock-llm").toCompletableFuture().get();
    String jobId = status.replicas().get(0).jobId();
    assertTrue(jobs.stream().anyMatch(j -> j.startsWith(jobId + "|")), "the gateway routes to the job Slurm runs");

    ChatCompletion c = openai.chat().completions().create(chat("mock-llm", "Tell me about Slurm", 5));
    assertEquals(5, c.usage().orElseThrow().completionTokens());
    String whole = c.choices().get(0).message().content().orElseThrow();
    StringBuilder streamed = new StringBuilder();
    int chunks = 0;
    try (StreamResponse<ChatCompletionChunk> s = openai.chat().completions().createStreaming(chat("mock-llm", "Tell me about Slurm", 5))) {
      for (ChatCompletionChunk chunk : (Iterable<ChatCompletionChunk>) s.stream()::iterator) {
        chunks++;
        chunk.choices().forEach(ch -> ch.delta().content().ifPresent(streamed::append));
      }
    }
    assertEquals(whole, streamed.toString());
    assertEquals(1 + 5 + 1, chunks);

    // Anyone on the compute node can reach the model server's port, but without the job's secret it refuses them.
    String line = jobs.stream().filter(j -> j.startsWith(jobId + "|")).findFirst().orElseThrow();
    int port = Integer.parseInt(line.replaceAll(".*port=([0-9]+).*", "$1"));
    HttpResponse<String> direct = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/models"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(401, direct.statusCode(), direct.body());
    HttpResponse<String> guessed = http.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v1/models"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(401, guessed.statusCode(), "the gateway's API key is not the job's secret");
  }

  @Test @Order(2) void manyConcurrentRequestsShareTheTunnel() throws Exception {
    List<CompletableFuture<ChatCompletion>> all = new ArrayList<>();
    for (int i = 0; i < 32; i++) {
      int n = i;
      all.add(CompletableFuture.supplyAsync(() -> openai.chat().completions().create(chat("mock-llm", "request " + n, 3))));
    }
    for (var f : all) assertEquals(3, f.get(60, TimeUnit.SECONDS).usage().orElseThrow().completionTokens());
  }

  @Test @Order(3) void adminTunnelsShowsTheLiveConnection() throws Exception {
    JsonNode tunnel = Await.until(Duration.ofSeconds(10), "a round-trip time in /admin/tunnels",
        () -> admin("/admin/tunnels").get("tunnels").get(0), t -> t.has("round_trip_millis"));
    assertEquals("hpc", tunnel.get("cluster").asText());
    assertEquals(sandbox.sshHost() + ":" + sandbox.sshPort(), tunnel.get("node").asText());
    assertEquals("up", tunnel.get("state").asText(), tunnel.toString());
    assertEquals(2, tunnel.get("channels").asInt(), tunnel.toString());
    assertTrue(tunnel.get("round_trip_millis").asDouble() < 1000, tunnel.toString());
  }

  @Test @Order(4) void aClientDisconnectCancelsTheRequestOnTheJob() throws Exception {
    String job = gateway.services().status("slow").toCompletableFuture().get().replicas().get(0).jobId();
    int abortedBefore = stats(job).get("streams_aborted").asInt();
    try (BufferedReader reader = stream("slow", 50)) {
      String line = reader.readLine();
      while (line != null && !line.startsWith("data: ")) line = reader.readLine();
      assertTrue(line != null, "the stream has started");
    }
    JsonNode s = Await.until(Duration.ofSeconds(20), "mock-llm on the compute node to count an aborted stream", () -> stats(job),
        st -> st.get("streams_aborted").asInt() != abortedBefore);
    assertEquals(abortedBefore + 1, s.get("streams_aborted").asInt(), "mock-llm on the compute node stopped generating: " + s);
  }

  @Test @Order(5) void aTunnelDropMidStreamEndsTheStreamWithAnErrorEventThenRequestsSucceedAgain() throws Exception {
    try (BufferedReader reader = stream("slow", 100)) {       // 100 tokens at 200 ms: 20 s if nothing breaks
      String line = reader.readLine();
      while (line != null && !line.startsWith("data: ")) line = reader.readLine();
      assertTrue(line != null, "the stream has started");
      long broke = System.nanoTime();
      killTunnel();
      String last = null;
      for (String l; (l = reader.readLine()) != null; ) if (l.startsWith("data: ")) last = l;
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - broke);
      assertTrue(seconds < 10, "the client stream ended " + seconds + " s after the drop, not at the end of generation");
      assertTrue(last != null && last.startsWith("data: {\"error\""), "ends with an in-band error event: " + last);
    }
    ChatCompletion c = openai.chat().completions().create(chat("mock-llm", "after the drop", 4));
    assertEquals(4, c.usage().orElseThrow().completionTokens());
  }

  @Test @Order(6) void aTunnelDropBeforeTheResponseHeadIsRetriedOnce() throws Exception {
    String job = gateway.services().status("slow").toCompletableFuture().get().replicas().get(0).jobId();
    long acceptedBefore = stats(job).get("completions").asLong();
    CompletableFuture<HttpResponse<String>> pending = http.sendAsync(post("/v1/chat/completions",
        "{\"model\":\"slow\",\"max_tokens\":60,\"messages\":[{\"role\":\"user\",\"content\":\"long answer\"}]}"),
        HttpResponse.BodyHandlers.ofString());
    // The generation (12 s) is under way on the job once mock-llm has accepted the request.
    Await.until(Duration.ofSeconds(20), "mock-llm on the compute node to accept the request", () -> stats(job),
        st -> st.get("completions").asLong() > acceptedBefore);
    killTunnel();
    // Nothing of the answer had been sent, so the gateway sends the request again once the tunnel is back.
    HttpResponse<String> r = pending.get(60, TimeUnit.SECONDS);
    assertEquals(200, r.statusCode(), r.body());
    assertEquals(60, JSON.readTree(r.body()).at("/usage/completion_tokens").asInt(), r.body());
    assertEquals(4, openai.chat().completions().create(chat("mock-llm", "after the drop", 4)).usage().orElseThrow().completionTokens());
  }

  @Test @Order(7) void anSshdRestartDuringTrafficIsSurvived() throws Exception {
    List<CompletableFuture<Integer>> traffic = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      traffic.add(http.sendAsync(post("/v1/chat/completions",
          "{\"model\":\"mock-llm\",\"max_tokens\":3,\"messages\":[{\"role\":\"user\",\"content\":\"x\"}]}"),
          HttpResponse.BodyHandlers.discarding()).thenApply(HttpResponse::statusCode));
    }
    sandbox.restartSshd(HpcSandbox.repoRoot());
    for (var f : traffic) {
      int status = f.get(60, TimeUnit.SECONDS);
      assertTrue(status == 200 || status == 502 || status == 503, "answered, never hung: " + status);
    }
    for (int i = 0; i < 5; i++) {
      assertEquals(3, openai.chat().completions().create(chat("mock-llm", "after restart " + i, 3)).usage().orElseThrow().completionTokens());
    }
    JsonNode tunnel = admin("/admin/tunnels").get("tunnels").get(0);
    assertEquals("up", tunnel.get("state").asText(), tunnel.toString());
    assertTrue(tunnel.get("connects").asInt() >= 3, "reconnected after every drop: " + tunnel);
    assertEquals(2, squeue().size(), "the jobs survived every tunnel drop; nothing was resubmitted: " + squeue());
  }

  // ---------------------------------------------------------------- helpers

  /** Kills the sshd processes serving the gateway's connection: the TCP connection dies mid-traffic. */
  static void killTunnel() throws Exception {
    HpcSandbox.signal("KILL", sandbox.sshConnectionProcesses());
  }

  static HttpRequest post(String path, String body) {
    return HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  static BufferedReader stream(String model, int maxTokens) throws Exception {
    HttpResponse<InputStream> r = http.send(post("/v1/chat/completions", "{\"model\":\"" + model + "\",\"stream\":true,"
        + "\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":\"a long story\"}]}"),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, r.statusCode());
    return new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8));
  }

  static JsonNode admin(String path) throws Exception {
    HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  /** mock-llm's counters on the compute node, read through the tunnel like any request. */
  static JsonNode stats(String job) throws Exception {
    return EmbeddedStack.stats(gateway, "hpc", "slow", job);
  }

}
