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

  @Test void aStateDirGivenOnTheCommandLineReplacesTheConfigsAndCarriesTheDefaultLog() throws IOException {
    Path f = dir.resolve("agent.json");
    Files.writeString(f, "{ \"sluice-agent\": { \"state-dir\": \"../data/agent\" } }");
    Path own = dir.resolve("elsewhere/agent");
    AgentConfig c = AgentConfig.load(f, java.util.Optional.of(own));
    assertEquals(own, c.stateDir(), "two gateways with their own data folders never share job folders");
    assertEquals(own.resolve("agent.log"), c.logFile());
    assertEquals(dir.getParent().resolve("data/agent"), AgentConfig.load(f).stateDir(), "without it, the config's");
  }

  @Test void slurmSectionHasSafeDefaults() throws IOException {
    AgentConfig.Slurm s = load("{\"sluice-agent\":{}}").slurm();
    assertEquals(AgentConfig.Slurm.defaults(), s);
    assertEquals(Duration.ofSeconds(30), s.commandTimeout());
    assertEquals(20000, s.portLow());
    assertEquals(39999, s.portHigh());
    assertEquals("{node}", s.nodeAddress());
    assertEquals(Duration.ofHours(1), s.keepFinished());
    assertEquals(Duration.ofSeconds(30), s.listingMaxAge(), "a running job's listing entry serves for 30 s");
    assertTrue(s.partition().isEmpty() && s.account().isEmpty() && s.gres().isEmpty(), "not passed to sbatch");
    assertEquals("sbatch", s.sbatch(), "bare names are looked up in PATH");
    ServiceSpec m = load("{\"sluice-agent\":{\"services\":{%s}}}".formatted(SERVICE)).service("m");
    assertEquals(ServiceSpec.SlurmOptions.NONE, m.slurm());
  }

  @Test void slurmSectionAndPerServiceOptionsAreRead() throws IOException {
    AgentConfig c = load("""
        { "sluice-agent": { "scheduler": "slurm",
            "slurm": { "command-timeout": "5s", "port-range": "31000-31099", "node-address": "{node}.ib.example",
                       "keep-finished": "2h", "listing-max-age": "1500ms", "partition": "gpu", "account": "proj42", "gres": "gpu:1",
                       "sbatch": "bin/sbatch-wrapper", "squeue": "/opt/slurm/bin/squeue" },
            "services": { "m": { "sbatch": "sbatch/m.sbatch", "time-limit": "10", "allowed-paths": ["/"],
                                 "partition": "a100", "gres": "gpu:a100:2", "sbatch-args": ["--mem=64G", "--exclusive"] } } } }
        """);
    assertEquals(AgentConfig.SchedulerKind.SLURM, c.scheduler());
    AgentConfig.Slurm s = c.slurm();
    assertEquals(Duration.ofSeconds(5), s.commandTimeout());
    assertEquals(31000, s.portLow());
    assertEquals(31099, s.portHigh());
    assertEquals("{node}.ib.example", s.nodeAddress());
    assertEquals(Duration.ofHours(2), s.keepFinished());
    assertEquals(Duration.ofMillis(1500), s.listingMaxAge());
    assertEquals("gpu", s.partition().orElseThrow());
    assertEquals("proj42", s.account().orElseThrow());
    assertEquals(dir.resolve("bin/sbatch-wrapper").toString(), s.sbatch(), "paths are relative to the config file");
    assertEquals("/opt/slurm/bin/squeue", s.squeue());
    assertEquals("scancel", s.scancel());
    ServiceSpec.SlurmOptions o = c.service("m").slurm();
    assertEquals("a100", o.partition().orElseThrow());
    assertTrue(o.account().isEmpty());
    assertEquals("gpu:a100:2", o.gres().orElseThrow());
    assertEquals(java.util.List.of("--mem=64G", "--exclusive"), o.sbatchArgs());
  }

  @Test void badSlurmValuesFailAtStartupNamingTheKey() {
    for (String bad : java.util.List.of("\"port-range\": \"30000\"", "\"port-range\": \"40000-30000\"",
        "\"port-range\": \"80-90\"", "\"command-timeout\": \"soon\"", "\"node-address\": \"http://{node}\"",
        "\"node-address\": \"\"", "\"partition\": \"--uid=0\"", "\"partition\": \"a b\"", "\"sbatch\": \"\"",
        "\"keep-finsihed\": \"1h\"")) {
      var e = assertThrows(AgentConfig.ConfigError.class, () -> load("{\"sluice-agent\":{\"slurm\":{" + bad + "}}}"), bad);
      assertTrue(e.getMessage().contains("sluice-agent.slurm."), e.getMessage());
    }
  }

  @Test void listingMaxAgeMustBeAPositiveDuration() {
    for (var bad : java.util.Map.of("\"0s\"", "listing-max-age must be positive",
        "\"30\"", "listing-max-age: not a duration (e.g. 500ms, 5s, 10m, 1h): 30",
        "\"-5s\"", "listing-max-age: not a duration", "30", "listing-max-age must be a string").entrySet()) {
      var e = assertThrows(AgentConfig.ConfigError.class,
          () -> load("{\"sluice-agent\":{\"slurm\":{\"listing-max-age\":" + bad.getKey() + "}}}"), bad.getKey());
      assertTrue(e.getMessage().contains("sluice-agent.slurm." + bad.getValue()), e.getMessage());
    }
  }

  @Test void minFrameIntervalDefaultsToFiveMillisAndIsBounded() throws IOException {
    assertEquals(Duration.ofMillis(5), load("{\"sluice-agent\":{}}").upstream().minFrameInterval());
    assertEquals(Duration.ZERO,
        load("{\"sluice-agent\":{\"upstream\":{\"min-frame-interval\":\"0ms\"}}}").upstream().minFrameInterval());
    var e = assertThrows(AgentConfig.ConfigError.class,
        () -> load("{\"sluice-agent\":{\"upstream\":{\"min-frame-interval\":\"1s\"}}}"));
    assertTrue(e.getMessage().contains("min-frame-interval must be at most 100ms, was 1s"), e.getMessage());
  }

  @Test void sbatchArgsMayNotReplaceWhatTheAgentSets() {
    for (String arg : java.util.List.of("--comment=x", "--comm=x", "--job-name=x", "--output=/tmp/x", "--error=/tmp/x", "--err=x", "--export=NONE",
        "--exp=NONE", "--time=1", "--wrap=id", "--array=1-3", "--partition=x", "--chdir=/", "-J x", "--mem 4G",
        "mem=4G", "--mem=4G\nx", "")) {
      String json = "{\"sluice-agent\":{\"services\":{\"m\":{\"sbatch\":\"sbatch/m.sbatch\",\"time-limit\":\"5\","
          + "\"allowed-paths\":[\"/\"],\"sbatch-args\":[" + com.fasterxml.jackson.databind.node.TextNode.valueOf(arg) + "]}}}}";
      var e = assertThrows(AgentConfig.ConfigError.class, () -> load(json), arg);
      assertTrue(e.getMessage().contains("sluice-agent.services.m"), e.getMessage());
    }
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
