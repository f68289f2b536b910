package sluice.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.service.ServiceStatus;

/**
 * The embedded stack for end-to-end tests: a real gateway with the agent as a child process, the local scheduler
 * running sbatch/mock-llm.sbatch (the packaged mock-llm jar), and an H2 journal, all under a temporary folder.
 */
final class EmbeddedStack {
  static final String API_KEY = "sk-test-0123456789abcdef";
  static final String ADMIN_KEY = "admin-0123456789abcdef";

  private EmbeddedStack() {}

  static Path home() {
    Path home = Path.of(System.getProperty("sluice.home", "..")).toAbsolutePath().normalize();
    if (!Files.isRegularFile(home.resolve("mock-llm/target/mock-llm.jar"))) {
      throw new IllegalStateException("mock-llm/target/mock-llm.jar is missing: run the end-to-end tests with mvn verify");
    }
    return home;
  }

  /**
   * Writes the agent config into {@code dir}: services mock-llm, slow (200 tokens at 700 ms each) and cold, whose job
   * never becomes ready (its model server "loads" forever), plus {@code extra} services (id to JSON object).
   */
  static void writeAgentConfig(Path dir, Map<String, String> extra) throws IOException {
    Path neverReady = dir.resolve("never-ready.sbatch");
    Files.writeString(neverReady, """
        #!/bin/bash
        # A model server that never answers its health path: loads, fails, and hangs.
        echo "loading weights for $SLUICE_SERVICE on port $SLUICE_PORT"
        echo "CUDA error: out of memory (token $SLUICE_JOB_TOKEN)" >&2
        exec sleep 600
        """);
    StringBuilder services = new StringBuilder();
    services.append("\"mock-llm\": ").append(service(mockLlm(), "--token-delay-ms 2", "15"))
        .append(", \"slow\": ").append(service(mockLlm(), "--token-delay-ms 700 --tokens 400", "15"))
        .append(", \"cold\": ").append(service(neverReady.toString(), "", "15"));
    extra.forEach((id, json) -> services.append(", \"").append(id).append("\": ").append(json));
    Files.writeString(dir.resolve("agent.json"), """
        {"sluice-agent": {"state-dir": "agent", "local": {"kill-wait": "2s"}, "services": {%s}}}""".formatted(services));
  }

  static void writeAgentConfig(Path dir) throws IOException { writeAgentConfig(dir, Map.of()); }

  static String mockLlm() { return home().resolve("sbatch/mock-llm.sbatch").toString(); }

  /** One agent service running {@code sbatch} with mock-llm flags and a Slurm time limit (e.g. "15" minutes, "0:20"). */
  static String service(String sbatch, String mockLlmArgs, String timeLimit) {
    return """
        {"sbatch": "%s", "time-limit": "%s", "health-path": "/health", "allowed-methods": ["GET", "POST"],
         "allowed-paths": ["/v1/chat/completions", "/v1/completions", "/v1/embeddings", "/stats"],
         "environment": {"MOCK_LLM_ARGS": "%s"}}""".formatted(sbatch, timeLimit, mockLlmArgs);
  }

  static Config config(Path dir, String extra) throws IOException {
    Config over = ConfigFactory.parseString("""
        sluice {
          data-dir = "%s"
          http { port = 0, max-body-size = 64k, sse-keep-alive = 300ms, sse-commit-after = 400ms }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms }
          services {
            mock-llm { cluster = local, max-inflight-per-replica = 8 }
            slow { cluster = local }
            cold { cluster = local, min-replicas = 0, max-queue-wait = 1500ms }
          }
        }
        %s
        """.formatted(dir.resolve("data"), freePort(), ADMIN_KEY, API_KEY, dir.resolve("agent.json"), extra));
    return ConfigFactory.load(over.withFallback(ConfigFactory.parseResourcesAnySyntax("application")));
  }

  /**
   * The HPC sandbox as cluster {@code hpc} (inside a {@code sluice} block): the SSH transport to its sshd with short
   * keep-alive and reconnect times, so the tests see a broken tunnel in seconds.
   */
  static String hpcCluster(HpcSandbox sandbox, boolean cancelJobsOnShutdown) {
    return """
        clusters.hpc {
          transport = ssh
          poll-interval = 1s
          connect-wait = 30s
          reconnect { min-backoff = 200ms, max-backoff = 2s }
          cancel-jobs-on-shutdown = %s
          ssh {
            login-nodes = ["%s:%d"]
            user = "%s"
            identity-file = "%s"
            known-hosts = "%s"
            channels = 2
            keep-alive { interval = 2s, count = 3 }
            read-idle-timeout = 10s
          }
        }
        """.formatted(cancelJobsOnShutdown ? "on" : "off", sandbox.sshHost(), sandbox.sshPort(), sandbox.sshUser(),
        sandbox.sshKey(), sandbox.knownHosts());
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  /** Waits up to 90 s for {@code service}'s status to satisfy {@code condition}; a failed status ask means "still starting". */
  static ServiceStatus awaitStatus(Gateway gateway, String service, Predicate<ServiceStatus> condition) throws Exception {
    return Await.ignoring(ExecutionException.class).until(Duration.ofSeconds(90), "service " + service + " to reach the expected state",
        () -> gateway.services().status(service).toCompletableFuture().get(), condition);
  }

  /** mock-llm's counters of one job, read through the cluster's agent like any request. */
  static JsonNode stats(Gateway gateway, String cluster, String service, String job) throws Exception {
    var resp = gateway.cluster(cluster).forward(new UpstreamRequest(service, job, "GET", "/stats", Map.of(),
        ByteString.emptyByteString(), null)).toCompletableFuture().get(30, TimeUnit.SECONDS);
    ByteString body = resp.body().runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), gateway.system())
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
    return new ObjectMapper().readTree(body.utf8String());
  }

  static ServiceStatus awaitReady(Gateway gateway, String service) throws Exception {
    return awaitStatus(gateway, service, s -> "ready".equals(s.availability()));
  }
}
