package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.WireJson;

@Timeout(60)
class AgentMainTest {
  @TempDir Path dir;

  private int run(Map<String, String> env, ByteArrayOutputStream out, ByteArrayOutputStream err, String... args) {
    return AgentMain.run(args, env, out, new PrintStream(err, true, StandardCharsets.UTF_8));
  }

  @ParameterizedTest
  @ValueSource(strings = {"bash", "mux v1; id", "mux v1 && cat /etc/passwd", "scancel 1", "mux v2", "$(id)", "mux  v1", ""})
  void anyCommandButItsOwnVerbsIsRefused(String command) {
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of("SSH_ORIGINAL_COMMAND", command), out, err));
    assertEquals(0, out.size(), "nothing is printed to the protocol channel");
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("refused command"));
  }

  /** Under --ssh (the forced command) only the exact verbs pass; the rest is refused on stderr and in the log. */
  @ParameterizedTest
  @ValueSource(strings = {"ls", "mux v1; rm -rf /", "mux v1\n", "mux v1 ", " mux v1", "MUX V1", "version\n",
      "mux v1\u0000", "sh -c 'mux v1'", "/bin/bash"})
  void sshModeRefusesAndLogsEverythingButItsVerbs(String command) throws Exception {
    Path config = config();
    var out = new ByteArrayOutputStream();
    var err = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of("SSH_ORIGINAL_COMMAND", command, "SSH_CONNECTION", "10.1.2.3 40000 10.9.9.9 22"), out, err,
        "--ssh", "--config", config.toString()));
    assertEquals(0, out.size(), "nothing is printed to the protocol channel");
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("refused command"));
    String log = Files.readString(dir.resolve("state/agent.log"));
    assertTrue(log.contains("refused SSH session from 10.1.2.3 port 40000: not an agent command: \""
        + AgentMain.printable(command) + "\""), log);
    assertEquals(1, log.lines().count(), "one line, whatever the command contained");
  }

  @Test void sshModeRefusesASessionWithoutACommand() throws Exception {
    Path config = config();
    var err = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of(), new ByteArrayOutputStream(), err, "--ssh", "--config", config.toString()));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("refused a session without a command"));
    assertTrue(Files.readString(dir.resolve("state/agent.log")).contains("refused SSH session from a local parent process: no command"));
  }

  @Test void sshModeStillRefusesWhenTheConfigIsBroken() throws Exception {
    Files.writeString(dir.resolve("bad.json"), "{");
    var err = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of("SSH_ORIGINAL_COMMAND", "id"), new ByteArrayOutputStream(), err,
        "--ssh", "--config", dir.resolve("bad.json").toString()));
    String e = err.toString(StandardCharsets.UTF_8);
    assertTrue(e.contains("refused command") && e.contains("cannot read agent config"), e);
  }

  @Test void sshModeAnswersVersion() throws Exception {
    var out = new ByteArrayOutputStream();
    assertEquals(0, run(Map.of("SSH_ORIGINAL_COMMAND", "version"), out, new ByteArrayOutputStream(),
        "--ssh", "--config", config().toString()));
    assertEquals("sluice-agent " + AgentMain.VERSION + " protocol mux/1\n", out.toString(StandardCharsets.UTF_8));
  }

  @Test void refusedCommandsAreEscapedAndShortenedForTheLog() {
    assertEquals("a\\nb\\u0007\\\\ \\u00e9", AgentMain.printable("a\nb\u0007\\ \u00e9"));
    String long1 = AgentMain.printable("x".repeat(5000));
    assertTrue(long1.startsWith("x".repeat(AgentMain.MAX_LOGGED_COMMAND) + "... (5000 chars)"), long1);
    assertTrue(long1.length() < 250);
  }

  private Path config() throws java.io.IOException {
    Files.writeString(dir.resolve("agent.json"), "{\"sluice-agent\": {\"state-dir\": \"state\"}}");
    return dir.resolve("agent.json");
  }

  @Test void versionVerbPrintsTheVersion() {
    var out = new ByteArrayOutputStream();
    assertEquals(0, run(Map.of("SSH_ORIGINAL_COMMAND", "version"), out, new ByteArrayOutputStream()));
    assertTrue(out.toString(StandardCharsets.UTF_8).startsWith("sluice-agent " + AgentMain.VERSION));
  }

  @Test void missingOrBrokenConfigIsAUsageError() throws Exception {
    var err = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of(), new ByteArrayOutputStream(), err));
    assertTrue(err.toString(StandardCharsets.UTF_8).contains("no config"));
    Files.writeString(dir.resolve("bad.json"), "{\"sluice-agent\": {\"bogus\": 1}}");
    var err2 = new ByteArrayOutputStream();
    assertEquals(2, run(Map.of(), new ByteArrayOutputStream(), err2, "--config", dir.resolve("bad.json").toString()));
    assertTrue(err2.toString(StandardCharsets.UTF_8).contains("unknown key sluice-agent.bogus"));
  }

  /** The agent as its own process, as the local transport and sshd start it. */
  private Process startAgent() throws java.io.IOException {
    Files.writeString(dir.resolve("agent.json"), "{\"sluice-agent\": {\"state-dir\": \"state\"}}");
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    return new ProcessBuilder(List.of(java, "-cp", System.getProperty("java.class.path"), AgentMain.class.getName(),
        "--config", dir.resolve("agent.json").toString())).redirectError(ProcessBuilder.Redirect.DISCARD).start();
  }

  /** The real process: banner, handshake, a call, then stdin EOF must end it promptly with exit 0. */
  @Test void processServesTheProtocolAndExitsOnStdinEof() throws Exception {
    Process p = startAgent();
    try {
      BufferedInputStream in = new BufferedInputStream(p.getInputStream());
      assertEquals("", Banner.skipTo(in, 1024));
      MuxSession client = MuxSession.client(in, p.getOutputStream(), Limits.DEFAULT, "test").start("test");
      assertEquals(1, client.peerHello().get(10, TimeUnit.SECONDS).protocol());
      Messages.Reply r = client.open(new Messages.ListJobs(), true).reply().get(10, TimeUnit.SECONDS);
      assertEquals(List.of(), WireJson.convert(r.result(), Messages.JobList.class).jobs());
      client.close();                                       // closes the agent's stdin
      assertTrue(p.waitFor(5, TimeUnit.SECONDS), "agent exits promptly on stdin EOF");
      assertEquals(0, p.exitValue());
      assertTrue(Files.readString(dir.resolve("state/agent.log")).contains("session ended"));
    } finally {
      p.destroyForcibly();
    }
  }

  @Test void garbageOnStdinIsAProtocolErrorNotAHang() throws Exception {
    Process p = startAgent();
    try {
      p.getOutputStream().write("rm -rf / ; id\n".repeat(10).getBytes(StandardCharsets.US_ASCII));
      p.getOutputStream().flush();
      assertTrue(p.waitFor(10, TimeUnit.SECONDS), "agent does not hang on garbage");
      assertEquals(1, p.exitValue());
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
      assertTrue(out.startsWith(Banner.TEXT) && out.contains("protocol_error"), "answers GO_AWAY protocol_error");
    } finally {
      p.destroyForcibly();
    }
  }
}
