package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.WireJson;

/**
 * What the gateway's SSH key can do on the sandbox's real OpenSSH + Slurm login node, tried with plain OpenSSH:
 * anything but the agent's own verbs is refused (by the agent, which logs why, or by sshd's {@code restrict}), and
 * inside a real mux session the agent acts only on its own configured service, its own jobs and allowed paths.
 */
@Timeout(120)
class AgentAbuseHpcIT {
  private static HpcSandbox sandbox;
  @TempDir Path dir;
  private final List<String> toCancel = new ArrayList<>();

  @BeforeAll static void install() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
  }

  @AfterEach void cancelLeftovers() throws Exception {
    if (!toCancel.isEmpty()) {
      List<String> cmd = new ArrayList<>(List.of("scancel"));
      cmd.addAll(toCancel);
      sandbox.slurm(cmd.toArray(String[]::new));
    }
  }

  private static long size(Path log) throws IOException {
    return Files.exists(log) ? Files.size(log) : 0;
  }

  /** Waits for a line in what a log gained since {@code from}; the agent may finish after the ssh client gave up. */
  private static String awaitLog(Path log, long from, String needle) throws Exception {
    return Await.until(Duration.ofSeconds(10), log + " to say \"" + needle + "\"", () -> gained(log, from),
        tail -> tail.contains(needle));
  }

  /** What a log gained since {@code from}: empty while it does not exist. */
  private static String gained(Path log, long from) throws IOException {
    if (!Files.exists(log)) return "";
    byte[] all = Files.readAllBytes(log);
    return new String(all, (int) Math.min(from, all.length), (int) Math.max(0, all.length - from), StandardCharsets.UTF_8);
  }

  private static String marker() {
    return "/tmp/pwned-" + Long.toHexString(ThreadLocalRandom.current().nextLong() & Long.MAX_VALUE);
  }

  @Test void versionIsAnswered() throws Exception {
    HpcSandbox.Result r = sandbox.ssh(List.of(), "version");
    assertEquals(0, r.exit(), r.stderr());
    assertEquals("sluice-agent " + AgentMain.VERSION + " protocol mux/1\n", r.stdout());
  }

  @ParameterizedTest
  @ValueSource(strings = {"ls /", "id", "cat /etc/passwd", "mux v1; touch MARKER", "$(touch MARKER)", "`touch MARKER`",
      "mux v1 && touch MARKER", "mux v1 | touch MARKER", "mux v1\ntouch MARKER", "version; touch MARKER",
      "mux v1 > MARKER", "touch MARKER #", "mux v2", "mux v1 "})
  void commandsAndShellTricksAreRefusedAndLogged(String template) throws Exception {
    String marker = marker();
    String command = template.replace("MARKER", marker);
    long from = size(sandbox.agentLog());
    HpcSandbox.Result r = sandbox.ssh(List.of(), command);
    assertEquals(2, r.exit(), "the agent's refusal: " + r.stderr());
    assertEquals("", r.stdout(), "nothing ran, nothing printed");
    assertTrue(r.stderr().contains("sluice-agent: refused command"), r.stderr());
    awaitLog(sandbox.agentLog(), from, "not an agent command: \"" + AgentMain.printable(command) + "\"");
    assertFalse(Files.exists(Path.of(marker)), "the shell never saw the command");
  }

  @Test void aShellSessionIsRefused() throws Exception {
    long from = size(sandbox.agentLog());
    HpcSandbox.Result r = sandbox.ssh(List.of());                     // plain `ssh host`: a shell request
    assertEquals(2, r.exit(), r.stderr());
    assertTrue(r.stderr().contains("refused a session without a command"), r.stderr());
    awaitLog(sandbox.agentLog(), from, "no command");
  }

  @Test void aTerminalIsRefused() throws Exception {
    long from = size(sandbox.agentLog());
    HpcSandbox.Result r = sandbox.ssh(List.of("-tt"));
    assertNotEquals(0, r.exit());
    assertTrue(r.stderr().contains("PTY allocation request failed"), "sshd's restrict: " + r.stderr());
    // sshd still runs the forced command for the shell request; the agent refuses that too.
    awaitLog(sandbox.agentLog(), from, "no command");
  }

  @Test void stdioForwardingIsRefused() throws Exception {
    long from = size(sandbox.sshdLog());
    HpcSandbox.Result r = sandbox.ssh(List.of("-W", "127.0.0.1:" + sandbox.sshPort()));
    assertEquals(255, r.exit());
    assertTrue(r.stderr().contains("administratively prohibited"), r.stderr());
    awaitLog(sandbox.sshdLog(), from, "refused local port forward");
  }

  @Test void remoteForwardingIsRefused() throws Exception {
    int port = freePort();
    HpcSandbox.Result r = sandbox.ssh(List.of("-o", "ExitOnForwardFailure=yes", "-N", "-R", port + ":127.0.0.1:22"));
    assertEquals(255, r.exit());
    // sshd logs nothing for a refused remote forward at LogLevel VERBOSE: the client's error is the evidence.
    assertTrue(r.stderr().contains("remote port forwarding failed"), r.stderr());
    assertThrows(ConnectException.class, () -> new Socket(InetAddress.getLoopbackAddress(), port).close(),
        "nothing listens on the login node");
  }

  /**
   * A local forward only fails when used (ExitOnForwardFailure covers the client's own listener), so: connect through
   * it to the login node's sshd and see that no SSH banner comes back.
   */
  @Test void localForwardingIsRefused() throws Exception {
    int port = freePort();
    long from = size(sandbox.sshdLog());
    Process ssh = new ProcessBuilder(sandbox.sshCommand(List.of("-o", "ExitOnForwardFailure=yes", "-N",
        "-L", "127.0.0.1:" + port + ":127.0.0.1:" + sandbox.sshPort())))
        .redirectErrorStream(true).redirectOutput(dir.resolve("ssh.out").toFile()).start();
    try {
      Socket s = connectWithin(port, Duration.ofSeconds(15), ssh);
      try (s) {
        s.setSoTimeout(10_000);
        assertEquals(-1, s.getInputStream().read(), "the tunnel carries nothing");
      }
      awaitLog(sandbox.sshdLog(), from, "refused local port forward: originator 127.0.0.1");
    } finally {
      ssh.destroy();
      ssh.waitFor(10, TimeUnit.SECONDS);
    }
  }

  /** Connects to the forwarded port once ssh listens on it; refused until then. */
  private static Socket connectWithin(int port, Duration limit, Process ssh) throws Exception {
    return Await.ignoring(ConnectException.class).until(limit, "ssh -L to listen on port " + port, () -> {
      if (!ssh.isAlive()) throw new AssertionError("ssh -L exited with " + ssh.exitValue());
      return new Socket(InetAddress.getLoopbackAddress(), port);
    }, Objects::nonNull);
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket()) {
      s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      return s.getLocalPort();
    }
  }

  // ---- inside a real session: `ssh host 'mux v1'`, the gateway's side of the protocol ----

  private MuxSession client;

  private Messages.Reply call(Messages.Call call) throws Exception {
    return client.open(call, true).reply().get(30, TimeUnit.SECONDS);
  }

  private static void assertRefused(int status, ProblemCode code, Messages.Reply r) {
    assertEquals(status, r.status(), () -> String.valueOf(r.error()));
    assertEquals(code, r.error().code());
  }

  private List<JobInfo> jobs() throws Exception {
    return WireJson.convert(call(new Messages.ListJobs()).result(), Messages.JobList.class).jobs();
  }

  private JobInfo awaitJob(String id, Predicate<JobInfo> condition) throws Exception {
    return Await.until(Duration.ofSeconds(30), "job " + id + " to get there",
        () -> jobs().stream().filter(j -> j.id().equals(id)).findFirst().orElse(null), j -> j != null && condition.test(j));
  }

  private String foreignJob(String... asUser) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(asUser));
    cmd.addAll(List.of("sbatch", "--parsable", "--job-name=foreign", "--time=5", "--chdir=/tmp", "--output=/dev/null",
        "--wrap=sleep 300"));
    String id = sandbox.slurm(cmd.toArray(String[]::new)).strip().split(";")[0];
    toCancel.add(id);
    return id;
  }

  @Test void aMuxSessionActsOnlyOnItsOwnServiceJobsAndPaths() throws Exception {
    // The login account's own job, submitted by hand, and another account's (root's) job.
    String sameAccount = foreignJob("runuser", "-u", sandbox.sshUser(), "--");
    String otherAccount = foreignJob();
    Process ssh = new ProcessBuilder(sandbox.sshCommand(List.of(), "mux v1"))
        .redirectError(dir.resolve("ssh.err").toFile()).start();
    try {
      InputStream in = new BufferedInputStream(ssh.getInputStream());
      assertEquals("", Banner.skipTo(in, 64 * 1024), "no rc-file noise before the banner");
      client = MuxSession.client(in, ssh.getOutputStream(), Limits.DEFAULT, "abuse-it").start("abuse-it");
      client.peerHello().get(30, TimeUnit.SECONDS);

      assertRefused(404, ProblemCode.UNKNOWN_SERVICE, call(new Messages.Submit("bash", "it.0000000000000001")));
      for (String id : List.of(sameAccount, otherAccount)) {
        assertRefused(404, ProblemCode.UNKNOWN_JOB, call(new Messages.Cancel(id)));
        assertRefused(404, ProblemCode.UNKNOWN_JOB, call(new Messages.Probe("mock-llm", id)));
        assertRefused(404, ProblemCode.UNKNOWN_JOB,
            call(new Messages.Forward("mock-llm", id, "GET", "/v1/models", Map.of(), "abuse-1")));
      }
      assertRefused(403, ProblemCode.PATH_NOT_ALLOWED,
          call(new Messages.Forward("mock-llm", sameAccount, "GET", "/admin/shutdown", Map.of(), "abuse-2")));
      assertRefused(403, ProblemCode.PATH_NOT_ALLOWED,
          call(new Messages.Forward("mock-llm", sameAccount, "DELETE", "/v1/models", Map.of(), "abuse-3")));
      assertTrue(jobs().stream().noneMatch(j -> j.id().equals(sameAccount) || j.id().equals(otherAccount)),
          "foreign jobs are not listed");
      for (String id : List.of(sameAccount, otherAccount)) {
        String state = sandbox.slurm("squeue", "-h", "-t", "all", "-j", id, "-o", "%T").strip();
        assertTrue(state.equals("RUNNING") || state.equals("PENDING"), "job " + id + " survived: " + state);
      }

      // The same session with its own job: submitted by tag, reachable, cancellable.
      String tag = "abuse-it." + String.format("%016x", ThreadLocalRandom.current().nextLong());
      JobInfo own = WireJson.convert(call(new Messages.Submit("mock-llm", tag)).result(), JobInfo.class);
      toCancel.add(own.id());
      assertEquals(own.id(), WireJson.convert(call(new Messages.Submit("mock-llm", tag)).result(), JobInfo.class).id());
      awaitJob(own.id(), j -> j.state() == JobState.RUNNING);
      Messages.ProbeResult probe = Await.until(Duration.ofSeconds(15), "mock-llm to answer its health path",
          () -> WireJson.convert(call(new Messages.Probe("mock-llm", own.id())).result(), Messages.ProbeResult.class),
          Messages.ProbeResult::ready);
      assertTrue(probe.ready(), "mock-llm came up: " + probe);
      var models = client.open(new Messages.Forward("mock-llm", own.id(), "GET", "/v1/models", Map.of(), "abuse-4"), true);
      assertEquals(200, models.reply().get(30, TimeUnit.SECONDS).status());
      assertTrue(new String(models.inputStream().readAllBytes(), StandardCharsets.UTF_8).contains("mock-llm"));
      assertTrue(WireJson.convert(call(new Messages.Cancel(own.id())).result(), Messages.CancelResult.class).cancelled());
      awaitJob(own.id(), j -> j.state() == JobState.CANCELLED);

      client.close();                                    // stdin EOF: the agent ends and sshd closes the channel
      assertTrue(ssh.waitFor(15, TimeUnit.SECONDS), "the session ends when the gateway closes it");
    } finally {
      if (client != null) client.close();
      ssh.destroyForcibly();
    }
  }
}
