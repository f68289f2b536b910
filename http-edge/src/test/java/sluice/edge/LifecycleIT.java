package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.SlurmState;
import sluice.core.job.ReplicaPhase;
import sluice.core.service.ServiceStatus;

/**
 * Always-on services on expiring jobs, end to end on the embedded stack (the local scheduler enforces time limits
 * like Slurm, in seconds here): renewal under load, scaling up, down and to zero, the admission queue, a job killed
 * mid-stream, a job that never becomes ready, and the operator's scale and drain. Each test has its own service.
 * The measured times are printed (lines starting with MEASURED), not asserted: timings belong to benchmarks.
 */
@Timeout(300)
class LifecycleIT {
  static Path dir;
  static Gateway gateway;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-lifecycle");
    String mock = EmbeddedStack.mockLlm();
    EmbeddedStack.writeAgentConfig(dir, Map.of(
        "renew", EmbeddedStack.service(mock, "--token-delay-ms 5", "0:24"),           // 24-second jobs
        "elastic", EmbeddedStack.service(mock, "--token-delay-ms 100 --tokens 400", "15"),
        "tight", EmbeddedStack.service(mock, "--token-delay-ms 100 --tokens 400", "15"),
        "fragile", EmbeddedStack.service(mock, "--token-delay-ms 100 --tokens 200", "15"),
        "stuck", EmbeddedStack.service(dir.resolve("never-ready.sbatch").toString(), "", "15")));
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        sluice.submit-retry { min = 300ms, max = 1s }
        sluice.services {
          mock-llm.min-replicas = 0
          slow.min-replicas = 0
          renew { cluster = local, min-replicas = 0, renew-before = 12s, drain-timeout = 20s, max-inflight-per-replica = 16,
                  scale-down-delay = 1s, idle-to-zero = 3s }
          elastic { cluster = local, min-replicas = 0, max-replicas = 2, max-inflight-per-replica = 2,
                    scale-down-delay = 2s, idle-to-zero = 4s, max-queue-wait = 60s }
          tight { cluster = local, min-replicas = 1, max-inflight-per-replica = 1, max-queue = 2, max-queue-wait = 30s }
          fragile { cluster = local, min-replicas = 1, max-queue-wait = 60s }
          stuck { cluster = local, min-replicas = 1, ready-timeout = 2s, max-queue-wait = 2s, idle-to-zero = 3s }
        }
        """));
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
  }

  // ---------------------------------------------------------------- renewal

  @Test void renewalUnderContinuousLoadFailsNoRequest() throws Exception {
    scale("renew", 1, 1);
    EmbeddedStack.awaitReady(gateway, "renew");
    Map<String, Instant> readyAt = new ConcurrentHashMap<>();
    Map<String, Instant> drainingAt = new ConcurrentHashMap<>();
    AtomicBoolean running = new AtomicBoolean(true);
    List<String> failures = new CopyOnWriteArrayList<>();
    List<Long> latencies = Collections.synchronizedList(new ArrayList<>());
    AtomicInteger ok = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> clients = new ArrayList<>();
    for (int c = 0; c < 3; c++) {
      boolean stream = c % 2 == 0;
      clients.add(pool.submit(() -> {
        while (running.get()) {
          long t0 = System.nanoTime();
          String problem = complete("renew", stream, 8);
          latencies.add(System.nanoTime() - t0);
          if (problem == null) ok.incrementAndGet();
          else failures.add(Instant.now() + " " + problem);
        }
        return null;
      }));
    }
    clients.add(pool.submit(() -> {                    // watches the replicas, as an operator would
      while (running.get()) {
        ServiceStatus s = gateway.services().status("renew").toCompletableFuture().get();
        for (ServiceStatus.Replica r : s.replicas()) {
          if (r.readyAt() != null) readyAt.putIfAbsent(r.jobId(), r.readyAt());
          if (r.drainingAt() != null) drainingAt.putIfAbsent(r.jobId(), r.drainingAt());
        }
        Thread.sleep(100);                             // a sampling period, not a wait for a state
      }
      return null;
    }));
    try {
      // 24-second jobs renewed 12 s ahead: two renewals within 36 s.
      Await.until(Duration.ofSeconds(90), "two renewals (replicas draining)", () -> Map.copyOf(drainingAt), d -> d.size() >= 2);
      // A fixed wait, not for a state: the load runs on through the second drain, whose requests must not fail either.
      Thread.sleep(2000);
    } finally {
      running.set(false);                              // also when the wait fails: the clients must not outlive the test
    }
    for (Future<?> f : clients) f.get(60, TimeUnit.SECONDS);
    pool.shutdown();

    assertEquals(List.of(), failures, "no request failed during renewals (" + ok.get() + " succeeded)");
    assertTrue(drainingAt.size() >= 2, "two renewals happened: " + drainingAt + " ready " + readyAt);
    for (String old : drainingAt.keySet()) {
      JobSnapshot j = Await.until(Duration.ofSeconds(20), "renewed job " + old + " to end",
          () -> jobs("renew").stream().filter(x -> x.jobId().equals(old)).findFirst().orElseThrow(), x -> x.state().isFinal());
      assertEquals(SlurmState.CANCELLED, j.state(), "a renewed job is cancelled after its drain, not killed by its time limit");
    }
    // The renewal gap: how long no replica was ready. A replacement is ready before the old one drains, so the
    // overlap (drain start minus the replacement's readiness) is positive when there was no gap.
    List<String> overlaps = new ArrayList<>();
    for (var e : drainingAt.entrySet()) {
      Instant replacementReady = readyAt.entrySet().stream().filter(r -> !r.getKey().equals(e.getKey()))
          .map(Map.Entry::getValue).filter(t -> !t.isAfter(e.getValue())).max(Instant::compareTo).orElse(null);
      assertTrue(replacementReady != null, "job " + e.getKey() + " drained only after a replacement was ready");
      overlaps.add(Duration.between(replacementReady, e.getValue()).toMillis() + " ms");
    }
    long[] sorted = latencies.stream().mapToLong(Long::longValue).sorted().toArray();
    System.out.printf("MEASURED renewal (local): %d requests, 0 failed, %d renewals, replacement ready ahead of the drain by %s,"
            + " request p50 %.1f ms, max %.1f ms%n", ok.get(), drainingAt.size(), overlaps,
        sorted[sorted.length / 2] / 1e6, sorted[sorted.length - 1] / 1e6);
    scale("renew", 0, 1);
  }

  // ---------------------------------------------------------------- scaling

  @Test void demandScalesUpAtOnceThenDownAndToZero() throws Exception {
    assertEquals("offline", status("elastic").availability(), "min-replicas = 0 and no demand: nothing runs");
    assertEquals(0, jobs("elastic").size());
    // A model at zero replicas is not a 404: the request waits while a job starts.
    assertEquals(null, complete("elastic", false, 3));
    assertEquals(1, live(jobs("elastic")), "one job started for the first request");

    ExecutorService pool = Executors.newFixedThreadPool(4);
    Instant burst = Instant.now();
    List<Future<String>> calls = new ArrayList<>();
    for (int i = 0; i < 4; i++) calls.add(pool.submit(() -> complete("elastic", false, 30)));   // 3 s each, 2 per replica
    ServiceStatus up = EmbeddedStack.awaitStatus(gateway, "elastic", s -> s.target() == 2);
    Duration clientSeen = Duration.between(burst, Instant.now());
    for (Future<String> f : calls) assertEquals(null, f.get(60, TimeUnit.SECONDS));
    pool.shutdown();
    assertEquals(2, live(jobs("elastic")), "a second job for 4 concurrent requests at 2 per replica");
    ServiceStatus.Scaling sc = up.scaling();
    System.out.printf("MEASURED scale-up decision (local): %d ms from the first request that did not fit to the new"
        + " target (actor clocks); %d ms until a client polling the status saw it%n",
        Duration.between(sc.demandAt(), sc.decidedAt()).toMillis(), clientSeen.toMillis());

    ServiceStatus down = EmbeddedStack.awaitStatus(gateway, "elastic", s -> s.target() == 1);
    assertEquals(1, down.scaling().lastTo());
    EmbeddedStack.awaitStatus(gateway, "elastic", s -> s.target() == 0 && s.replicas().isEmpty());
    awaitJobs("elastic", js -> live(js) == 0);
    assertTrue(jobs("elastic").stream().allMatch(j -> j.state() == SlurmState.CANCELLED), "drained and cancelled: " + jobs("elastic"));
    assertEquals(null, complete("elastic", false, 2), "back from zero on demand");
  }

  // ---------------------------------------------------------------- queue

  @Test void aFullQueueIs503WithRetryAfterAndQueuedRequestsAreServed() throws Exception {
    EmbeddedStack.awaitReady(gateway, "tight");
    ExecutorService pool = Executors.newFixedThreadPool(6);
    // One request runs (2 s), two wait (one of them streaming, kept alive), the rest are refused at once.
    Future<String> running = pool.submit(() -> complete("tight", false, 20));
    EmbeddedStack.awaitStatus(gateway, "tight", s -> s.inFlight() == 1);
    Future<String> queued = pool.submit(() -> complete("tight", false, 5));
    Future<String> queuedStream = pool.submit(() -> {
      HttpResponse<String> r = post("/v1/chat/completions", body("tight", true, 5));
      if (!r.body().startsWith(": keep-alive\n\n")) return "no keep-alive while waiting: " + r.body();
      return r.body().endsWith("data: [DONE]\n\n") && !r.body().contains("\"error\"") ? null : r.body();
    });
    EmbeddedStack.awaitStatus(gateway, "tight", s -> s.queue().length() == 2);
    HttpResponse<String> refused = post("/v1/chat/completions", body("tight", false, 5));
    assertEquals(503, refused.statusCode(), refused.body());
    assertEquals("model_not_ready", JSON.readTree(refused.body()).at("/error/code").asText());
    assertTrue(JSON.readTree(refused.body()).at("/error/message").asText().contains("queue"), refused.body());
    long retryAfter = Long.parseLong(refused.headers().firstValue("retry-after").orElseThrow());
    assertTrue(retryAfter >= 1 && retryAfter <= 60, "Retry-After from the measured request time: " + retryAfter);
    assertEquals(null, running.get(60, TimeUnit.SECONDS));
    assertEquals(null, queued.get(60, TimeUnit.SECONDS));
    assertEquals(null, queuedStream.get(60, TimeUnit.SECONDS));
    pool.shutdown();
  }

  // ---------------------------------------------------------------- failures

  @Test void aJobKilledMidStreamEndsTheStreamInBandAndIsReplaced() throws Exception {
    ServiceStatus s = EmbeddedStack.awaitReady(gateway, "fragile");
    String job = s.replicas().stream().filter(ServiceStatus.Replica::routable).findFirst().orElseThrow().jobId();
    HttpRequest req = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY)
        .POST(HttpRequest.BodyPublishers.ofString("{\"model\":\"fragile\",\"stream\":true,\"prompt\":\"a long story\"}")).build();
    HttpResponse<InputStream> r = http.send(req, HttpResponse.BodyHandlers.ofInputStream());
    List<String> events = new ArrayList<>();
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(r.body(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null && events.size() < 3) if (line.startsWith("data: ")) events.add(line);
      killModelServer(job);                                      // SIGKILL, as a crashing node would
      while ((line = reader.readLine()) != null) if (line.startsWith("data: ")) events.add(line);
    }
    String last = events.get(events.size() - 1);
    assertTrue(last.contains("\"error\""), "the stream ends with an in-band error event: " + last);
    // The next request waits for (or is retried onto) the replacement, and succeeds.
    assertEquals(null, complete("fragile", false, 3));
    ServiceStatus after = EmbeddedStack.awaitReady(gateway, "fragile");
    assertTrue(after.replicas().stream().noneMatch(x -> x.jobId().equals(job)), "the killed job was replaced: " + after);
    assertEquals(SlurmState.FAILED, jobs("fragile").stream().filter(j -> j.jobId().equals(job)).findFirst().orElseThrow().state());
  }

  @Test void aJobThatNeverBecomesReadyIsRetriedAndTheServiceShowsWhy() throws Exception {
    HttpResponse<String> r = post("/v1/chat/completions", body("stuck", false, 3));
    assertEquals(503, r.statusCode(), r.body());
    assertTrue(r.headers().firstValue("retry-after").isPresent());
    ServiceStatus s = EmbeddedStack.awaitStatus(gateway, "stuck", ServiceStatus::degraded);
    // The last failure is the ready-timeout's cancel, reported as such, or (when the local scheduler had already dropped
    // the cancelled job from its listing before the job actor looked) as a job that vanished before it was ready.
    assertTrue(s.lastError().contains("ready-timeout") || s.lastError().contains("ended before it was ready"), s.lastError());
    awaitJobs("stuck", js -> js.stream().filter(j -> j.state() == SlurmState.CANCELLED).count() >= 3);
    ServiceStatus shown = EmbeddedStack.awaitStatus(gateway, "stuck", st -> st.logTail().stream().anyMatch(l -> l.contains("CUDA error")));
    assertTrue(shown.logTail().stream().noneMatch(l -> l.matches(".*token [^*].*")), "the job's secret is masked: " + shown.logTail());
    var view = JSON.readTree(admin("GET", "/admin/services/stuck", null).body());
    assertTrue(view.get("degraded").asBoolean(), view.toString());
    assertTrue(view.get("log_tail").toString().contains("loading weights for stuck"), view.toString());
    scale("stuck", 0, 1);                                           // stop retrying (idle-to-zero follows)
  }

  // ---------------------------------------------------------------- operators

  @Test void operatorsScaleAndDrainThroughTheAdminApi() throws Exception {
    var bad = admin("POST", "/admin/services/tight/scale", "{\"min\": 3, \"max\": 1}");
    assertEquals(400, bad.statusCode(), bad.body());
    assertEquals("invalid_scale", JSON.readTree(bad.body()).at("/error/code").asText());
    assertEquals(400, admin("POST", "/admin/services/tight/scale", "{\"min\": \"two\"}").statusCode());
    assertEquals(404, admin("POST", "/admin/services/nope/scale", "{\"min\": 1, \"max\": 1}").statusCode());
    var unknown = admin("POST", "/admin/services/tight/replicas/999999/drain", "");
    assertEquals(404, unknown.statusCode(), unknown.body());
    assertEquals("replica_not_found", JSON.readTree(unknown.body()).at("/error/code").asText());

    ServiceStatus before = EmbeddedStack.awaitReady(gateway, "tight");
    String job = before.replicas().stream().filter(ServiceStatus.Replica::routable).findFirst().orElseThrow().jobId();
    var drained = admin("POST", "/admin/services/tight/replicas/" + job + "/drain", "");
    assertEquals(200, drained.statusCode(), drained.body());
    ServiceStatus replaced = EmbeddedStack.awaitStatus(gateway, "tight", st -> "ready".equals(st.availability())
        && st.replicas().stream().noneMatch(x -> x.jobId().equals(job)));
    assertEquals(1, replaced.replicas().size());
    awaitJobs("tight", js -> js.stream().anyMatch(j -> j.jobId().equals(job) && j.state() == SlurmState.CANCELLED));

    var view = JSON.readTree(admin("GET", "/admin/services/tight", null).body());
    JsonNode replica = view.get("replicas").get(0);
    assertEquals(ReplicaPhase.READY.name(), replica.get("phase").asText());
    assertEquals("ok", replica.get("health").asText());
    assertTrue(replica.get("time_left_seconds").asLong() > 0, view.toString());
    assertEquals(1, view.get("target").asInt());
    assertEquals(0, view.at("/queue/length").asInt());
  }

  // ---------------------------------------------------------------- helpers

  private static void scale(String service, int min, int max) throws Exception {
    var r = admin("POST", "/admin/services/" + service + "/scale", "{\"min\": " + min + ", \"max\": " + max + "}");
    assertEquals(200, r.statusCode(), r.body());
  }

  private static ServiceStatus status(String service) throws Exception {
    return gateway.services().status(service).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private static List<JobSnapshot> jobs(String service) throws Exception {
    return gateway.cluster("local").jobs().toCompletableFuture().get(10, TimeUnit.SECONDS).stream()
        .filter(j -> j.service().equals(service)).toList();
  }

  private static long live(List<JobSnapshot> jobs) { return jobs.stream().filter(j -> !j.state().isFinal()).count(); }

  private static void awaitJobs(String service, java.util.function.Predicate<List<JobSnapshot>> condition) throws Exception {
    Await.until(Duration.ofSeconds(60), "the jobs of " + service + " to match", () -> jobs(service), condition);
  }

  /** SIGKILLs the model server of a local job (the job runner's children), leaving the runner to record the failure. */
  private static void killModelServer(String job) throws Exception {
    long runner = JSON.readTree(dir.resolve("agent/jobs/" + job + "/state.json").toFile()).get("runnerPid").asLong();
    ProcessHandle.of(runner).orElseThrow().descendants().forEach(ProcessHandle::destroyForcibly);
  }

  private static String body(String model, boolean stream, int maxTokens) {
    return "{\"model\":\"" + model + "\",\"stream\":" + stream + ",\"max_tokens\":" + maxTokens
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"hello\"}]}";
  }

  /** One chat completion; null when it fully succeeded, else what went wrong. */
  private static String complete(String model, boolean stream, int maxTokens) {
    try {
      HttpResponse<String> r = post("/v1/chat/completions", body(model, stream, maxTokens));
      if (r.statusCode() != 200) return r.statusCode() + " " + r.body();
      if (stream && (!r.body().endsWith("data: [DONE]\n\n") || r.body().contains("\"error\""))) return "stream: " + r.body();
      if (!stream && JSON.readTree(r.body()).at("/usage/completion_tokens").asInt() != maxTokens) return "body: " + r.body();
      return null;
    } catch (Exception e) {
      return e.toString();
    }
  }

  private static HttpResponse<String> post(String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(90)).POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static HttpResponse<String> admin(String method, String path, String body) throws Exception {
    Map<String, String> headers = new HashMap<>(Map.of("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY));
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(30));
    headers.forEach(b::header);
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }
}
