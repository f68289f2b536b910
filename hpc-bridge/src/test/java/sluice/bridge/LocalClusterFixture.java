package sluice.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import sluice.agent.wire.Limits;
import sluice.bridge.local.LocalAgentTransport;

/**
 * A whole embedded cluster for tests: the real agent as a child process, its local scheduler, and a job script that
 * runs mock-llm from the test class path. Nothing is faked. The script prints the job's secret, as careless job
 * scripts (and vLLM, which logs its arguments) do, so that tests see the agent mask it.
 */
final class LocalClusterFixture implements AutoCloseable {
  final Path dir;
  final BridgeClusterGateway gateway;
  private final ExecutorService blocking = Executors.newCachedThreadPool();

  LocalClusterFixture(Path dir, String mockArgs, String timeLimit) throws IOException {
    this.dir = dir;
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    Files.writeString(dir.resolve("mock-llm.sbatch"), """
        #!/bin/bash
        echo "job secret: $SLUICE_JOB_TOKEN"
        exec %s -Xmx128m -cp '%s' sluice.mock.MockLlmMain --port "$SLUICE_PORT" --model "$SLUICE_SERVICE" %s
        """.formatted(java, System.getProperty("java.class.path"), mockArgs));
    Files.writeString(dir.resolve("agent.json"), """
        {"sluice-agent": {"state-dir": "state", "local": {"kill-wait": "1s"}, "services": {
          "mock-llm": {"sbatch": "mock-llm.sbatch", "time-limit": "%s",
                       "allowed-paths": ["/v1/chat/completions", "/v1/completions", "/stats"]}}}}
        """.formatted(timeLimit));
    var transport = new LocalAgentTransport("local", LocalAgentTransport.defaultCommand(dir.resolve("agent.json"), Optional.empty()),
        Limits.DEFAULT, Duration.ofSeconds(30));
    var link = new AgentLink("local", transport, blocking, Duration.ofMillis(100), Duration.ofSeconds(1), Duration.ofSeconds(20),
        sluice.core.tunnel.TunnelObserver.NONE);
    gateway = new BridgeClusterGateway("local", "test", link, ForkJoinPool.commonPool(),
        new BridgeClusterGateway.Timeouts(Duration.ofSeconds(30), Duration.ofSeconds(10), Duration.ofMinutes(5)), Duration.ZERO);
  }

  /** The agent processes this JVM started. */
  static java.util.List<ProcessHandle> agents() {
    // ProcessHandle.Info drops very long command lines (the test class path), so read /proc instead.
    return ProcessHandle.current().children().filter(p -> {
      try {
        return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).contains("sluice.agent.AgentMain");
      } catch (IOException e) {
        return false;
      }
    }).toList();
  }

  @Override public void close() throws Exception {
    for (var j : gateway.jobs().toCompletableFuture().get()) {
      if (!j.state().isFinal()) gateway.cancel(j.jobId()).toCompletableFuture().get();
    }
    gateway.close();
    blocking.shutdown();
  }
}
