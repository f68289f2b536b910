package sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Paths 2 and 3: a gateway in its own JVM ({@code java @conf/jvm.options -jar sluice.jar serve --config FILE}, as
 * {@code bin/sluice serve} runs it) with one service, mock-llm, of exactly one replica.
 * <ul>
 *   <li>embedded: the local transport: the agent is a child process on pipes and the local scheduler runs
 *       sbatch/mock-llm.sbatch, as {@code bin/sluice demo} does;</li>
 *   <li>ssh: the SSH transport to the sandbox's OpenSSH sshd, whose authorized_keys forces the agent; the agent runs
 *       the job through real Slurm.</li>
 * </ul>
 */
final class GatewayStack implements Stack {
  /** Prefixes the tags of the bench's jobs, so it only ever cancels its own. */
  static final String DEPLOYMENT = "sluice-bench";
  private static final Duration READY_WAIT = Duration.ofMinutes(3);
  private static final Pattern COMMENT_PORT = Pattern.compile("\\bport=(\\d+)");
  /**
   * The sandbox's service for the bench (bin/hpc-sandbox): mock-llm with 2,000 tokens and threads for 10,000 streams;
   * its "mock-llm" service is sized for the tests (16 tokens, 128 threads).
   */
  static final String SANDBOX_MODEL = "bench";

  private final String path;
  private final Process process;
  private final URI base;
  private final URI metrics;
  private final Path log;
  private final Sandbox sandbox;          // null on the embedded path
  private final Set<Long> existedBefore;  // processes older than this gateway: never charged to it
  private final String model;
  private final long started;             // System.nanoTime() just before the gateway process was started
  private Startup.Launch launch;

  private GatewayStack(String path, Process process, URI base, URI metrics, Path log, Sandbox sandbox, Set<Long> existedBefore,
                       String model, long started) {
    this.path = path;
    this.process = process;
    this.base = base;
    this.metrics = metrics;
    this.log = log;
    this.sandbox = sandbox;
    this.existedBefore = existedBefore;
    this.model = model;
    this.started = started;
  }

  /** @param inflight requests the replica may carry at once, and streams the agent may hold open */
  static GatewayStack embedded(Path home, Path work, List<String> mockArgs, int inflight) throws IOException, InterruptedException {
    Path dir = work.resolve("embedded");
    Files.createDirectories(dir);
    ObjectNode service = Api.JSON.createObjectNode()
        .put("sbatch", home.resolve("sbatch/mock-llm.sbatch").toString())
        .put("time-limit", "30:00")
        .put("health-path", "/health");
    service.putArray("allowed-paths").add("/v1/chat/completions");
    service.putArray("allowed-methods").add("GET").add("POST");
    service.putObject("environment").put("MOCK_LLM_ARGS", String.join(" ", mockArgs))
        .put("MOCK_LLM_JAVA_OPTS", String.join(" ", DirectStack.MOCK_JVM));
    ObjectNode agent = Api.JSON.createObjectNode();
    ObjectNode root = agent.putObject("sluice-agent")
        .put("scheduler", "local")
        .put("state-dir", dir.resolve("agent-state").toString())
        .put("max-streams", inflight + 64);
    root.putObject("local").put("kill-wait", "2s");
    root.putObject("services").set(Api.MODEL, service);
    Path agentConfig = dir.resolve("agent.json");
    Api.JSON.writerWithDefaultPrettyPrinter().writeValue(agentConfig.toFile(), agent);
    String cluster = """
        clusters.local {
          transport = local
          local.agent-config = %s
          # As conf/embedded.conf (bin/sluice demo): a local listing is cheap, and a started job is seen sooner.
          poll-interval = 300ms
          cancel-jobs-on-shutdown = on
        }""".formatted(quote(agentConfig.toString()));
    return start("embedded", home, dir, "local", cluster, null, inflight, Api.MODEL);
  }

  static GatewayStack ssh(Path home, Path work, Sandbox sandbox, int inflight) throws IOException, InterruptedException {
    Path dir = work.resolve("ssh");
    Files.createDirectories(dir);
    sandbox.installJars(home);
    String cluster = """
        clusters.hpc {
          transport = ssh
          poll-interval = 1s
          cancel-jobs-on-shutdown = on
          ssh {
            login-nodes = [%s]
            user = %s
            identity-file = %s
            known-hosts = %s
            # One agent process carries every stream: the targets are for one login-node agent (the default, 2,
            # would split the streams over two).
            channels = 1
          }
        }""".formatted(quote(sandbox.sshHost() + ":" + sandbox.sshPort()), quote(sandbox.user()),
        quote(sandbox.key().toString()), quote(sandbox.knownHosts().toString()));
    return start("ssh", home, dir, "hpc", cluster, sandbox, inflight, SANDBOX_MODEL);
  }

  /** The whole deployment config of one path; everything not set here is the gateway's default. */
  static String config(Path home, Path dir, int port, int managementPort, String clusterName, String cluster, int inflight,
                       String model) {
    return """
        sluice {
          home = %s
          deployment = "%s"
          data-dir = %s
          # Every connection of the bench comes from 127.0.0.1, as from a reverse proxy: no cap per address (its
          # default, 1,024, closed slow streams beside the load generator's kept-alive connections).
          http { interface = "127.0.0.1", port = %d, connections.max-per-address = 0 }
          management { interface = "127.0.0.1", port = %d }
          admin.key = "%s"
          auth.api-keys = [{ name = "bench", key = "%s" }]
          # As conf/embedded.conf: mock-llm answers its health path about half a second after its job starts.
          readiness.probe-interval = 200ms
        %s
          # One replica that may carry every client's request (and every open stream) at once: the bench measures the
          # path, not the queue.
          services.%s { cluster = %s, min-replicas = 1, max-replicas = 1, max-inflight-per-replica = %d, max-queue = 256 }
        }
        pekko.coordinated-shutdown.exit-jvm = on
        """.formatted(quote(home.toString()), DEPLOYMENT, quote(dir.resolve("data").toString()), port, managementPort,
        Api.ADMIN_KEY, Api.API_KEY, cluster.indent(2).stripTrailing(), model, clusterName, inflight);
  }

  private static GatewayStack start(String path, Path home, Path dir, String clusterName, String cluster, Sandbox sandbox,
                                    int inflight, String model) throws IOException, InterruptedException {
    int port = Processes.freePort();
    int managementPort = Processes.freePort();
    Path conf = dir.resolve("gateway.conf");
    Files.writeString(conf, config(home, dir, port, managementPort, clusterName, cluster, inflight, model));
    Set<Long> before = new HashSet<>(ProcSnapshot.take().procs().keySet());
    Path log = dir.resolve("gateway.log");
    long started = System.nanoTime();
    Process p = Processes.start(command(home, conf), Map.of("SLUICE_HOME", home.toString()), log);
    GatewayStack g = new GatewayStack(path, p, URI.create("http://127.0.0.1:" + port),
        URI.create("http://127.0.0.1:" + managementPort + "/metrics"), log, sandbox, Set.copyOf(before), model, started);
    try {
      g.awaitFirstOk();
      g.awaitReady();
    } catch (IOException | InterruptedException | RuntimeException e) {
      g.close();
      throw e;
    }
    return g;
  }

  /**
   * The gateway's command line as {@code bin/sluice serve} builds it: conf/jvm.options, conf/jvm-jdk17.options on a JDK
   * that knows its flags (17 to 19; the gateway runs on the bench's own java), and the class-data archive the build
   * trained beside the jar when there is one (docs/operations.md "Fast start").
   */
  static List<String> command(Path home, Path conf) {
    return command(home, conf, Runtime.version().feature());
  }

  static List<String> command(Path home, Path conf, int javaFeature) {
    Path jar = home.resolve("http-edge/target/sluice.jar");
    Path archive = home.resolve("http-edge/target/sluice.jsa");
    List<String> cmd = new ArrayList<>(List.of(Processes.java(), "@" + home.resolve("conf/jvm.options")));
    if (javaFeature >= 17 && javaFeature < 20) cmd.add("@" + home.resolve("conf/jvm-jdk17.options"));
    if (Files.isRegularFile(archive)) cmd.addAll(List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds*=off"));
    cmd.addAll(List.of("-Dsluice.home=" + home, "-jar", jar.toString(), "serve", "--config", conf.toString()));
    return cmd;
  }

  /**
   * Sends the short chat request from the process start on until one is answered 200, and notes when the gateway
   * first answered at all and when it first said 200: what "the first 200 within 3 s of process start" asks.
   */
  private void awaitFirstOk() throws IOException, InterruptedException {
    HttpClient http = Api.client();
    long until = started + READY_WAIT.toNanos();
    long listening = 0;
    long firstAnswer = 0;
    int firstStatus = 0;
    String last = "no answer yet";
    while (System.nanoTime() < until) {
      if (!process.isAlive()) throw new IOException("the gateway exited; its log ends with:\n" + Processes.tail(log, 30));
      long sent = System.nanoTime();
      try {
        HttpResponse<String> r = http.send(Api.chat(base, Api.API_KEY, model), HttpResponse.BodyHandlers.ofString());
        long now = System.nanoTime();
        if (firstAnswer == 0) {
          listening = sent;
          firstAnswer = now;
          firstStatus = r.statusCode();
        }
        if (r.statusCode() == 200) {
          launch = new Startup.Launch(started, listening, firstAnswer, firstStatus, now);
          return;
        }
        last = "HTTP " + r.statusCode();
      } catch (IOException e) {
        last = String.valueOf(e.getMessage());
      }
      Thread.sleep(20);     // a refused connection fails at once: do not spin
    }
    throw new IOException("no 200 to the chat request within " + READY_WAIT.toSeconds() + " s (" + last
        + "); gateway log ends with:\n" + Processes.tail(log, 30));
  }

  /** When this gateway first answered, and first answered 200, after its process start. */
  @Override public Optional<Startup.Launch> launch() {
    return Optional.ofNullable(launch);
  }

  /** Polls GET /v1/models until the model's status is "ready" (its job runs and passed a readiness probe). */
  private void awaitReady() throws IOException, InterruptedException {
    HttpClient http = Api.client();
    long until = System.nanoTime() + READY_WAIT.toNanos();
    String last = "no answer yet";
    while (System.nanoTime() < until) {
      if (!process.isAlive()) throw new IOException("the gateway exited; its log ends with:\n" + Processes.tail(log, 30));
      try {
        for (JsonNode m : Api.get(http, base.resolve("/v1/models"), Api.API_KEY).path("data")) {
          if (m.path("id").asText().equals(model)) {
            last = "status " + m.path("status").asText("?");
            if (m.path("status").asText().equals("ready")) return;
          }
        }
      } catch (IOException e) {
        last = e.getMessage();
      }
      Thread.sleep(250);
    }
    String admin;
    try {
      admin = Api.get(http, base.resolve("/admin/services/" + model), Api.ADMIN_KEY).toString();
    } catch (IOException e) {
      admin = e.getMessage();
    }
    throw new IOException("model " + model + " not ready after " + READY_WAIT.toSeconds() + " s (" + last + "); admin: "
        + admin + "\ngateway log ends with:\n" + Processes.tail(log, 30));
  }

  @Override public String model() {
    return model;
  }

  @Override public String path() {
    return path;
  }

  @Override public URI baseUri() {
    return base;
  }

  @Override public Optional<URI> metricsUri() {
    return Optional.of(metrics);
  }

  @Override public Map<Long, String> owners(ProcSnapshot s) {
    Map<Long, String> owners = new HashMap<>();
    owners.put(ProcessHandle.current().pid(), CpuUse.LOAD);
    owners.put(process.pid(), CpuUse.GATEWAY);
    // Embedded: the agent, the local scheduler's job runner and the job all descend from the gateway.
    for (long pid : s.descendantsOf(process.pid())) {
      String cmd = s.procs().get(pid).cmdline();
      if (cmd.contains("sluice.agent.AgentMain") || cmd.contains("slurm-agent.jar")) owners.put(pid, CpuUse.AGENT);
      else if (cmd.contains("mock-llm.jar")) owners.put(pid, CpuUse.MOCK);
      else owners.put(pid, CpuUse.RUNNER);
    }
    if (sandbox != null) sshOwners(s, owners);
    return owners;
  }

  /**
   * SSH: the agents are the sandbox user's slurm-agent.jar processes that started after this gateway; sshd is their
   * per-connection sshd processes (not the listener); mock-llm is the process listening on the port that the agent
   * wrote into this deployment's Slurm job; the Slurm and munge daemons (slurmstepd included) are charged together.
   */
  private void sshOwners(ProcSnapshot s, Map<Long, String> owners) {
    int uid = sandbox.uid();
    long listener = sandbox.sshdListenerPid();
    Set<String> ports = new HashSet<>();
    for (String[] job : sandbox.jobsOf(DEPLOYMENT)) {
      Matcher m = COMMENT_PORT.matcher(job[1]);
      if (m.find()) ports.add(m.group(1));
    }
    for (ProcSnapshot.Proc p : s.procs().values()) {
      String cmd = p.cmdline();
      String argv0 = cmd.isEmpty() ? "" : cmd.split(" ")[0];
      if (argv0.endsWith("slurmctld") || argv0.endsWith("slurmd") || cmd.startsWith("slurmstepd")
          || argv0.endsWith("munged") || cmd.startsWith("slurmctld:")) {
        owners.put(p.pid(), CpuUse.SLURM);
      }
      if (p.uid() != uid || existedBefore.contains(p.pid())) continue;
      if (cmd.contains(sandbox.loginDir().resolve("slurm-agent.jar").toString())) {
        owners.put(p.pid(), CpuUse.AGENT);
        for (ProcSnapshot.Proc a : s.ancestorsOf(p.pid())) {
          if (a.pid() == listener) break;
          if (a.cmdline().startsWith("sshd")) owners.put(a.pid(), CpuUse.SSHD);
        }
      } else if (cmd.contains("mock-llm.jar") && ports.stream().anyMatch(port -> cmd.contains("--port " + port))) {
        owners.put(p.pid(), CpuUse.MOCK);
      }
    }
  }

  /** Stops the gateway (which cancels its job through the agent), then cancels whatever job of ours is left. */
  @Override public void close() {
    Processes.stop(process, Duration.ofSeconds(45));
    if (sandbox != null) {
      for (String[] job : sandbox.jobsOf(DEPLOYMENT)) sandbox.cancel(job[0]);
    }
  }

  /** A HOCON quoted string. */
  static String quote(String s) {
    return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
  }
}
