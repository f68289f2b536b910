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
