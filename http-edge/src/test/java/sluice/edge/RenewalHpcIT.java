package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
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
import sluice.agent.testing.HpcSandbox;
import sluice.core.service.ServiceStatus;

/**
 * Renewal on real Slurm: the sandbox's service {@code renew} runs one-minute jobs (the shortest limit Slurm has), so
 * each job is renewed 30 s after it starts. Under continuous load through the SSH tunnel, no request may fail, the
 * renewed jobs must end CANCELLED by the gateway (not TIMEOUT by Slurm), and there must never be more than the old
 * job and its one replacement, as {@code squeue} itself reports.
 */
@Timeout(360)
class RenewalHpcIT {
  // Unique per run: squeue keeps finished jobs for MinJobAge, and an earlier run's jobs must not count.
  static final String DEPLOYMENT = "renew-it-" + Long.toHexString(System.nanoTime() & 0xffffff);
  static HpcSandbox sandbox;
  static Gateway gateway;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll static void start() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
    Path dir = Files.createTempDirectory("sluice-renew-it");
    gateway = Gateway.start(ConfigFactory.load(ConfigFactory.parseString("""
        sluice {
          deployment = "%s"
          data-dir = "%s"
          http { port = 0, sse-keep-alive = 300ms, sse-commit-after = 400ms }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 300ms
          %s
          services.renew { cluster = hpc, renew-before = 30s, drain-timeout = 20s, max-inflight-per-replica = 16 }
        }
        """.formatted(DEPLOYMENT, dir.resolve("data"), EmbeddedStack.freePort(), EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY,
        EmbeddedStack.hpcCluster(sandbox, true)))
        .withFallback(ConfigFactory.parseResourcesAnySyntax("application"))));
  }

  @AfterAll static void stop() throws Exception {
    if (gateway != null) gateway.close();
    if (sandbox != null) {
      for (String[] job : squeue().values()) if (!isFinal(job[1])) sandbox.slurm("scancel", job[0]);
    }
  }

  /** This deployment's jobs, final ones included, as Slurm lists them: id -> {id, state}. */
  static Map<String, String[]> squeue() throws Exception {
    Map<String, String[]> jobs = new LinkedHashMap<>();
    for (String line : sandbox.slurm("squeue", "-h", "-t", "all", "-u", sandbox.sshUser(), "-o", "%i|%T|%k").split("\n")) {
      String[] f = line.trim().split("\\|");
      if (f.length == 3 && f[2].contains("tag=" + DEPLOYMENT + ".")) jobs.put(f[0], new String[] {f[0], f[1]});
    }
    return jobs;
  }

  /** This deployment's jobs, final ones included: id -> state. */
  static Map<String, String> states() throws Exception {
    Map<String, String> out = new LinkedHashMap<>();
    squeue().forEach((id, job) -> out.put(id, job[1]));
    return out;
  }

  static boolean isFinal(String state) {
    return !List.of("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED").contains(state);
  }

  @Test void renewalsUnderLoadFailNoRequestAndNeverDuplicateAJob() throws Exception {
    EmbeddedStack.awaitReady(gateway, "renew");
    AtomicBoolean running = new AtomicBoolean(true);
    List<String> failures = new CopyOnWriteArrayList<>();
    AtomicInteger ok = new AtomicInteger();
    AtomicInteger maxLive = new AtomicInteger();
    Map<String, Instant> readyAt = new ConcurrentHashMap<>();
    Map<String, Instant> drainingAt = new ConcurrentHashMap<>();
    ExecutorService pool = Executors.newFixedThreadPool(4);
    List<Future<?>> tasks = new ArrayList<>();
    for (int c = 0; c < 2; c++) {
      boolean stream = c == 0;
      tasks.add(pool.submit(() -> {
        while (running.get()) {
          String problem = complete(stream);
          if (problem == null) ok.incrementAndGet();
          else failures.add(Instant.now() + " " + problem);
        }
        return null;
      }));
    }
    tasks.add(pool.submit(() -> {                       // Slurm's view and the gateway's, five times a second
      while (running.get()) {
        long live = squeue().values().stream().filter(j -> !isFinal(j[1])).count();
        maxLive.accumulateAndGet((int) live, Math::max);
        for (ServiceStatus.Replica r : gateway.services().status("renew").toCompletableFuture().get().replicas()) {
          if (r.readyAt() != null) readyAt.putIfAbsent(r.jobId(), r.readyAt());
          if (r.drainingAt() != null) drainingAt.putIfAbsent(r.jobId(), r.drainingAt());
        }
        Thread.sleep(200);                             // the sampling period, not a wait for a state
      }
      return null;
    }));
    try {
      // Renewals are counted in squeue: the gateway's view of a drained job lasts only until its cancel lands.
      Await.until(Duration.ofSeconds(200), "two renewed jobs to end in squeue", RenewalHpcIT::states,
          jobs -> jobs.values().stream().filter(RenewalHpcIT::isFinal).count() >= 2);
    } finally {
      running.set(false);                              // also when the wait fails: the clients must not outlive the test
    }
    for (Future<?> f : tasks) f.get(90, TimeUnit.SECONDS);
    pool.shutdown();

    assertEquals(List.of(), failures, "no request failed (" + ok.get() + " succeeded)");
    assertTrue(maxLive.get() <= 2, "never more than a job and its replacement in squeue: " + maxLive.get());
    Map<String, String[]> jobs = squeue();
    List<String[]> ended = jobs.values().stream().filter(j -> isFinal(j[1])).toList();
    assertTrue(ended.size() >= 2, "two renewals within 200 s: " + jobs.keySet());
    for (String[] j : ended) assertEquals("CANCELLED", j[1], "job " + j[0] + " was drained and cancelled before its time limit");
    assertTrue(jobs.size() - ended.size() <= 2, "besides the renewed jobs only the serving one (and its replacement): "
        + jobs.keySet());
    assertTrue(!drainingAt.isEmpty(), "the gateway was seen draining a renewed job");
    List<String> overlaps = new ArrayList<>();
    for (var e : drainingAt.entrySet()) {
      Instant replacement = readyAt.entrySet().stream().filter(r -> !r.getKey().equals(e.getKey())).map(Map.Entry::getValue)
          .filter(t -> !t.isAfter(e.getValue())).max(Instant::compareTo).orElse(null);
      assertTrue(replacement != null, "job " + e.getKey() + " drained only after its replacement was ready");
      overlaps.add(Duration.between(replacement, e.getValue()).toMillis() + " ms");
    }
    System.out.printf("MEASURED renewal (slurm): %d requests, 0 failed, %d renewals, replacement ready ahead of the drain by %s,"
        + " at most %d jobs in squeue%n", ok.get(), ended.size(), overlaps, maxLive.get());
  }

  /** One chat completion through the tunnel; null when it fully succeeded. */
  private static String complete(boolean stream) {
    try {
      String body = "{\"model\":\"renew\",\"stream\":" + stream + ",\"max_tokens\":8,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
          .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(Duration.ofSeconds(90))
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) return r.statusCode() + " " + r.body();
      if (stream && (!r.body().endsWith("data: [DONE]\n\n") || r.body().contains("\"error\""))) return "stream: " + r.body();
      if (!stream && !r.body().contains("\"completion_tokens\":8")) return "body: " + r.body();
      return null;
    } catch (Exception e) {
      return e.toString();
    }
  }
}
