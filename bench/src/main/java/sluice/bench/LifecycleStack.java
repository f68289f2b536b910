package sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

/**
 * The lifecycle bench's gateway: one JVM ({@code java -jar sluice.jar serve --config FILE}) on the local transport
 * and the local scheduler, with three mock-llm services, one per scenario. It can be SIGKILLed and started again on
 * the same data dir (journal) and agent state dir, and it cleans up after itself: a clean stop cancels the jobs
 * ({@code cancel-jobs-on-shutdown = on}), and whatever a killed gateway left running is killed by pid.
 */
final class LifecycleStack implements AutoCloseable {
  /** Prefixes the tags of this bench's jobs; different from the throughput bench's, so neither touches the other's. */
  static final String DEPLOYMENT = "sluice-bench-lifecycle";
  static final String SCALEUP = "scaleup";
  static final String RENEWAL = "renewal";
  static final String RECOVERY = "recovery";
  /** 100 ms per token: a burst request holds its slot for seconds, long enough to need a second replica. */
  static final int SCALEUP_TOKEN_DELAY_MS = 100;
  static final int SCALEUP_PER_REPLICA = 2;
  static final int SCALEUP_MAX = 2;
  static final Duration SCALE_DOWN_DELAY = Duration.ofSeconds(2);
  static final Duration IDLE_TO_ZERO = Duration.ofSeconds(4);
  /** Slurm syntax, minutes:seconds: a 24-second job, renewed 12 s ahead, as in LifecycleIT. */
  static final String RENEWAL_TIME_LIMIT = "0:24";
  static final Duration RENEW_BEFORE = Duration.ofSeconds(12);
  static final int RENEWAL_TOKEN_DELAY_MS = 10;
  static final Duration POLL_INTERVAL = Duration.ofSeconds(1);
  static final Duration PROBE_INTERVAL = Duration.ofMillis(500);

  private final Path home;
  private final Path dir;
  private final Path conf;
  private final Path log;
  private final Path stateDir;
  private final Path agentConfig;
  private final URI base;
  private final HttpClient http = Api.client();
  /** Agents of SIGKILLed gateways: they should exit on their stdin's EOF; any still alive at close is killed. */
  private final Set<Long> formerAgents = ConcurrentHashMap.newKeySet();
  private volatile Process process;
  private volatile List<String> leftovers = List.of();
  private int starts;

  private LifecycleStack(Path home, Path dir, Path conf, Path stateDir, Path agentConfig, URI base) {
    this.home = home;
    this.dir = dir;
    this.conf = conf;
    this.log = dir.resolve("gateway.log");
    this.stateDir = stateDir;
    this.agentConfig = agentConfig;
    this.base = base;
  }

  /** Writes the agent config and the gateway config under {@code work/lifecycle}; starts nothing. */
  static LifecycleStack create(Path home, Path work) throws IOException {
    Path dir = work.resolve("lifecycle");
    Files.createDirectories(dir);
    Path stateDir = dir.resolve("agent-state");
    ObjectNode agent = Api.JSON.createObjectNode();
    ObjectNode root = agent.putObject("sluice-agent").put("scheduler", "local").put("state-dir", stateDir.toString());
    root.putObject("local").put("kill-wait", "2s");
    ObjectNode services = root.putObject("services");
    String sbatch = home.resolve("sbatch/mock-llm.sbatch").toString();
    services.set(SCALEUP, agentService(sbatch, "15", "--token-delay-ms " + SCALEUP_TOKEN_DELAY_MS + " --tokens 400"));
    services.set(RENEWAL, agentService(sbatch, RENEWAL_TIME_LIMIT, "--token-delay-ms " + RENEWAL_TOKEN_DELAY_MS + " --tokens 400"));
    services.set(RECOVERY, agentService(sbatch, "15", "--token-delay-ms 0"));
    Path agentConfig = dir.resolve("agent.json");
    Api.JSON.writerWithDefaultPrettyPrinter().writeValue(agentConfig.toFile(), agent);
    int port = Processes.freePort();
    Path conf = dir.resolve("gateway.conf");
    Files.writeString(conf, config(home, dir, port, Processes.freePort(), agentConfig));
    return new LifecycleStack(home, dir, conf, stateDir, agentConfig, URI.create("http://127.0.0.1:" + port));
  }

  private static ObjectNode agentService(String sbatch, String timeLimit, String mockArgs) {
    ObjectNode s = Api.JSON.createObjectNode().put("sbatch", sbatch).put("time-limit", timeLimit).put("health-path", "/health");
    s.putArray("allowed-paths").add("/v1/chat/completions");
    s.putArray("allowed-methods").add("GET").add("POST");
    s.putObject("environment").put("MOCK_LLM_ARGS", mockArgs);
    return s;
  }

  /** The whole gateway config; every key not set here is the gateway's default. */
  static String config(Path home, Path dir, int port, int managementPort, Path agentConfig) {
    return """
        sluice {
          home = %s
          deployment = "%s"
          data-dir = %s
          http { interface = "127.0.0.1", port = %d }
          management { interface = "127.0.0.1", port = %d }
          admin.key = "%s"
          auth.api-keys = [{ name = "bench", key = "%s" }]
          readiness.probe-interval = %dms
          submit-retry { min = 300ms, max = 1s }
          clusters.local {
            transport = local
            local.agent-config = %s
            poll-interval = %dms
            # A clean stop cancels the jobs; after a SIGKILL they keep running, as Slurm jobs do.
            cancel-jobs-on-shutdown = on
          }
          services {
            # Scale-up: 2 requests per replica, so a burst of 4 needs a second replica.
            %s { cluster = local, min-replicas = 0, max-replicas = %d, max-inflight-per-replica = %d,
                 scale-down-delay = %ds, idle-to-zero = %ds, max-queue-wait = 60s }
            # Renewal: 24-second jobs (agent time-limit %s), replaced 12 s before their end.
            %s { cluster = local, min-replicas = 0, max-replicas = 1, max-inflight-per-replica = 16,
                 renew-before = %ds, drain-timeout = 20s, scale-down-delay = 1s, idle-to-zero = 3s, max-queue-wait = 60s }
            # Recovery: one replica (the bench sets min = 1 through the admin API, which the journal keeps).
            %s { cluster = local, min-replicas = 0, max-replicas = 1, max-queue-wait = 60s }
          }
        }
        pekko.coordinated-shutdown.exit-jvm = on
        """.formatted(GatewayStack.quote(home.toString()), DEPLOYMENT, GatewayStack.quote(dir.resolve("data").toString()),
        port, managementPort, Api.ADMIN_KEY, Api.API_KEY, PROBE_INTERVAL.toMillis(),
        GatewayStack.quote(agentConfig.toString()), POLL_INTERVAL.toMillis(),
        SCALEUP, SCALEUP_MAX, SCALEUP_PER_REPLICA, SCALE_DOWN_DELAY.toSeconds(), IDLE_TO_ZERO.toSeconds(),
        RENEWAL_TIME_LIMIT, RENEWAL, RENEW_BEFORE.toSeconds(), RECOVERY);
  }

  URI baseUri() {
    return base;
  }

  HttpClient http() {
    return http;
  }

  Path dir() {
    return dir;
  }

  /** Starts the gateway JVM (not waiting for it) and returns the instant just before the process was started. */
  Instant start() throws IOException {
    if (process != null && process.isAlive()) throw new IllegalStateException("the gateway is already running");
    starts++;
    Files.writeString(log, "==== bench: gateway start " + starts + " at " + Instant.now() + "\n", StandardCharsets.UTF_8,
        StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    Instant at = Instant.now();
    process = Processes.start(List.of(Processes.java(), "-Dsluice.home=" + home, "-jar",
            home.resolve("http-edge/target/sluice.jar").toString(), "serve", "--config", conf.toString()),
        Map.of("SLUICE_HOME", home.toString()), log);
    return at;
  }

  /** Waits until the admin API answers (the HTTP binding is up and the services are reachable). */
  void awaitUp(Duration limit) throws IOException, InterruptedException {
    long until = System.nanoTime() + limit.toNanos();
    String last = "no answer yet";
    while (System.nanoTime() < until) {
      if (!process.isAlive()) throw new IOException("the gateway exited; its log ends with:\n" + Processes.tail(log, 30));
      try {
        Api.get(http, base.resolve("/admin/services"), Api.ADMIN_KEY);
        return;
      } catch (IOException e) {
        last = e.getMessage();
      }
      Thread.sleep(50);
    }
    throw new IOException("the gateway did not answer within " + limit.toSeconds() + " s (" + last + "); its log ends with:\n"
        + Processes.tail(log, 30));
  }

  /**
   * SIGKILL (Process.destroyForcibly), as a crash or the OOM killer would: no shutdown hook, no job cancelled.
   * Returns the instant just before the signal; returns once the process is gone.
   */
  Instant kill9() throws InterruptedException, IOException {
    Process p = process;
    for (ProcessHandle h : p.descendants().toList()) {
      if (h.info().commandLine().orElse("").contains(agentConfig.toString())) formerAgents.add(h.pid());
    }
    Instant at = Instant.now();
    p.destroyForcibly();
    if (!p.waitFor(30, TimeUnit.SECONDS)) throw new IOException("the gateway did not die within 30 s of SIGKILL");
    return at;
  }

  boolean alive() {
    return process != null && process.isAlive();
  }

  ServiceView status(String service) throws IOException, InterruptedException {
    return ServiceView.parse(Api.get(http, base.resolve("/admin/services/" + service), Api.ADMIN_KEY));
  }

  List<ServiceView> statuses() throws IOException, InterruptedException {
    List<ServiceView> out = new ArrayList<>();
    for (JsonNode s : Api.get(http, base.resolve("/admin/services"), Api.ADMIN_KEY).path("services")) out.add(ServiceView.parse(s));
    return out;
  }

  /** POST /admin/services/{id}/scale: the operator's bounds, persisted until set again. */
  void scale(String service, int min, int max) throws IOException, InterruptedException {
    Api.post(http, base.resolve("/admin/services/" + service + "/scale"), Api.ADMIN_KEY,
        "{\"min\": " + min + ", \"max\": " + max + "}");
  }

  AgentJobs agentJobs() throws IOException {
    return AgentJobs.read(stateDir);
  }

  String logTail(int lines) {
    return Processes.tail(log, lines);
  }

  /**
   * A clean stop (SIGTERM: the gateway cancels its jobs), then SIGKILL for anything of this run still alive: agents
   * of killed gateways and the job runners (with their model servers) that the agent's state dir lists as running.
   * Returns what it had to kill, empty when the clean stop left nothing behind.
   */
  @Override public void close() {
    leftovers = new ArrayList<>();
    Process p = process;
    if (p != null && p.isAlive()) Processes.stop(p, Duration.ofSeconds(45));
    for (long pid : formerAgents) {
      ProcessHandle.of(pid).ifPresent(h -> {
        leftovers.add("agent " + pid);
        h.destroyForcibly();
      });
    }
    // The runner gets a moment to record the cancellation the stopping gateway asked for.
    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
    List<AgentJobs.Job> live = liveJobs();
    while (!live.isEmpty() && System.nanoTime() < until) {
      sleep(200);
      live = liveJobs();
    }
    for (AgentJobs.Job j : live) {
      if (j.runnerPid() == null) continue;
      String jobDir = stateDir.resolve("jobs").resolve(j.id()).toString();
      ProcessHandle.of(j.runnerPid()).filter(h -> h.info().commandLine().orElse("").contains(jobDir)).ifPresent(h -> {
        leftovers.add("job " + j.id() + " (" + j.service() + ", runner " + h.pid() + ")");
        h.descendants().forEach(ProcessHandle::destroyForcibly);
        h.destroyForcibly();
      });
    }
  }

  /** What {@link #close} had to kill; empty when the gateway's own shutdown cleaned up. */
  List<String> leftovers() {
    return List.copyOf(leftovers);
  }

  /** Jobs still running whose runner is alive (a runner killed without writing an end is not running). */
  private List<AgentJobs.Job> liveJobs() {
    try {
      return agentJobs().jobs().stream().filter(AgentJobs.Job::live)
          .filter(j -> j.runnerPid() != null && ProcessHandle.of(j.runnerPid()).isPresent()).toList();
    } catch (IOException | RuntimeException e) {
      return List.of();
    }
  }

  private static void sleep(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
