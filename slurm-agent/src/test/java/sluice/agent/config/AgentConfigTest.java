package sluice.agent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
  @TempDir Path dir;

  @BeforeEach void script() throws IOException {
    Files.createDirectories(dir.resolve("sbatch"));
    Files.writeString(dir.resolve("sbatch/m.sbatch"), "#!/bin/bash\n");
  }

  private AgentConfig load(String json) throws IOException {
    Path f = dir.resolve("agent.json");
    Files.writeString(f, json);
    return AgentConfig.load(f);
  }

  private static final String SERVICE = """
      "m": { "sbatch": "sbatch/m.sbatch", "time-limit": "1-00:00:00",
             "allowed-paths": ["/v1/chat/completions", "/v1/files/*"] }""";

  @Test void operatorFileOverridesDefaultsAndResolvesPathsAgainstItsFolder() throws IOException {
    AgentConfig c = load("""
        // comments are allowed
        { "sluice-agent": { "state-dir": "state", "upstream": { "probe-timeout": "1s" }, "services": { %s, } } }
        """.formatted(SERVICE));
    assertEquals(AgentConfig.SchedulerKind.LOCAL, c.scheduler());
    assertEquals(dir.resolve("state"), c.stateDir());
    assertEquals(dir.resolve("state/agent.log"), c.logFile());
    assertEquals(Duration.ofSeconds(1), c.upstream().probeTimeout());
    assertEquals(Duration.ofMinutes(10), c.upstream().headersTimeout(), "untouched keys keep the reference default");
    ServiceSpec m = c.service("m");
    assertEquals(dir.resolve("sbatch/m.sbatch"), m.sbatch());
    assertEquals(Duration.ofDays(1), m.timeLimit().orElseThrow());
    assertEquals("/health", m.healthPath());
  }

  @Test void allowListMatchesExactPathsAndPrefixesOnly() throws IOException {
    ServiceSpec m = load("{\"sluice-agent\":{\"services\":{%s}}}".formatted(SERVICE)).service("m");
    assertTrue(m.allows("POST", "/v1/chat/completions"));
    assertTrue(m.allows("POST", "/v1/chat/completions?x=1"));
    assertTrue(m.allows("GET", "/v1/files/abc"));
    assertFalse(m.allows("POST", "/v1/chat/completions/x"));
    assertFalse(m.allows("POST", "/v1/files"));
    assertFalse(m.allows("DELETE", "/v1/chat/completions"), "methods default to GET and POST");
    assertFalse(m.allows("POST", "/metrics"));
  }

  @Test void unknownKeysAreErrorsNamingTheKey() {
    var e = assertThrows(AgentConfig.ConfigError.class, () -> load("{\"sluice-agent\":{\"stat-dir\":\"x\"}}"));
    assertTrue(e.getMessage().contains("sluice-agent.stat-dir"), e.getMessage());
    var e2 = assertThrows(AgentConfig.ConfigError.class, () -> load(
        "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"sbatch/m.sbatch\",\"time-limit\":\"5\",\"allowed-paths\":[\"/\"],\"comand\":\"x\"}}}}"));
    assertTrue(e2.getMessage().contains("sluice-agent.services.m.comand"), e2.getMessage());
  }

  @Test void badValuesFailAtStartup() {
    assertThrows(AgentConfig.ConfigError.class, () -> load("{\"sluice-agent\":{\"scheduler\":\"pbs\"}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load("{\"sluice-agent\":{\"local\":{\"kill-wait\":\"soon\"}}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load(
        "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"missing.sbatch\",\"time-limit\":\"5\",\"allowed-paths\":[\"/\"]}}}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load(
        "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"sbatch/m.sbatch\",\"time-limit\":\"1h\",\"allowed-paths\":[\"/\"]}}}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load(
        "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"sbatch/m.sbatch\",\"time-limit\":\"5\",\"allowed-paths\":[\"/../x\"]}}}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load(
        "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"sbatch/m.sbatch\",\"time-limit\":\"5\",\"allowed-paths\":[\"/\"],"
            + "\"environment\":{\"SLURM_JOB_ID\":\"1\"}}}}}"));
    assertThrows(AgentConfig.ConfigError.class, () -> load("[]"));
  }
}
