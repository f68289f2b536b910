package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.testing.Await;
import sluice.agent.wire.Limits;
import sluice.bridge.local.LocalAgentTransport;
import sluice.core.tunnel.TunnelObserver;

/**
 * The gateway starts a local agent's JVM before its own actor system (Gateway.start): the first connection must use
 * that process, not start a second, and a gateway that fails to start must not leave it behind. Real agent processes.
 */
@Timeout(60)
class LocalAgentPrestartTest {
  private static final Duration WAIT = Duration.ofSeconds(20);

  @TempDir Path dir;
  private Set<Long> before;

  @BeforeEach void noteRunningAgents() {
    before = pids(LocalClusterFixture.agents());
  }

  @Test void theFirstConnectionTakesThePrestartedAgent() throws Exception {
    LocalAgentTransport transport = transport(writeConfig());
    transport.prestart();
    transport.prestart();                                          // a second call starts nothing more
    long prestarted = Await.until(WAIT, "one agent started ahead of the connection", this::newAgents, s -> s.size() == 1)
        .iterator().next();

    try (AgentConnection conn = transport.connect(TunnelObserver.NONE)) {
      assertTrue(conn.ping().get(10, TimeUnit.SECONDS).toMillis() >= 0, "the connection carries the protocol");
      assertEquals(Set.of(prestarted), newAgents(), "the connection runs over the prestarted agent, and no other");
    }
    Await.until(WAIT, "the agent gone once its connection closed", () -> newAgents().isEmpty());

    // The next connection (a reconnect) starts its own agent again.
    try (AgentConnection again = transport.connect(TunnelObserver.NONE)) {
      Set<Long> now = newAgents();
      assertEquals(1, now.size());
      assertFalse(now.contains(prestarted), "a new process for the reconnect");
    }
  }

  @Test void aGatewayThatFailsToStartStopsThePrestartedAgent() throws Exception {
    LocalAgentTransport transport = transport(writeConfig());
    transport.prestart();
    Await.until(WAIT, "the agent started", () -> newAgents().size() == 1);
    transport.discardPrestarted();
    Await.until(WAIT, "the prestarted agent stopped", () -> newAgents().isEmpty());
  }

  @Test void aPrestartedAgentThatExitedIsTheOneThatExplainsWhy() throws Exception {
    // An "agent" that notes each start, complains and exits at once, as the real one does with a bad config.
    Path starts = dir.resolve("starts");
    LocalAgentTransport transport = new LocalAgentTransport("local", List.of("/bin/sh", "-c",
        "echo started >> '" + starts + "'; echo 'sluice-agent.services must be an object' >&2; exit 2"),
        Limits.DEFAULT, Duration.ofSeconds(30));
    transport.prestart();
    Await.until(WAIT, "the prestarted agent started", () -> Files.exists(starts));
    IOException e = assertThrows(IOException.class, () -> transport.connect(TunnelObserver.NONE));
    assertTrue(e.getMessage().contains("must be an object"), "the agent's own complaint reaches the gateway: " + e.getMessage());
    assertEquals(List.of("started"), Files.readAllLines(starts), "the connection used the agent that had exited, not a new one");
  }

  private Path writeConfig() throws IOException {
    Path config = dir.resolve("agent.json");
    Files.writeString(config, """
        {"sluice-agent": {"state-dir": "state", "services": {
          "mock-llm": {"sbatch": "mock-llm.sbatch", "time-limit": "1:00", "allowed-paths": ["/v1/chat/completions"]}}}}
        """);
    Files.writeString(dir.resolve("mock-llm.sbatch"), "#!/bin/bash\nexit 0\n");
    return config;
  }

  private static LocalAgentTransport transport(Path config) {
    return new LocalAgentTransport("local", LocalAgentTransport.defaultCommand(config, Optional.empty()), Limits.DEFAULT,
        Duration.ofSeconds(30));
  }

  private Set<Long> newAgents() {
    Set<Long> now = pids(LocalClusterFixture.agents());
    now.removeAll(before);
    return now;
  }

  private static Set<Long> pids(List<ProcessHandle> processes) {
    return processes.stream().filter(ProcessHandle::isAlive).map(ProcessHandle::pid).collect(Collectors.toSet());
  }
}
