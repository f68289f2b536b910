package sluice.bridge.ssh;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.testing.HpcSandbox;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.bridge.AgentConnection;
import sluice.bridge.AgentLink;
import sluice.bridge.AgentTransport;
import sluice.core.tunnel.TunnelObserver;

/**
 * The SSH transport against the sandbox's real OpenSSH sshd, whose authorized_keys forces the agent: connecting with
 * strict host keys, refusing a wrong host key or key, and finding dead and frozen servers.
 */
class SshTransportHpcIT {
  static HpcSandbox sandbox;
  static final ExecutorService blocking = Executors.newCachedThreadPool();

  @BeforeAll static void install() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
  }

  @AfterAll static void stop() {
    blocking.shutdownNow();
  }

  static SshSettings settings(Optional<Path> knownHosts, Optional<String> fingerprint, Path key, int channels,
                              Duration keepAlive, int keepAliveCount, Duration readIdle) {
    return new SshSettings(List.of(new SshSettings.LoginNode(sandbox.sshHost(), sandbox.sshPort())), sandbox.sshUser(), key,
        knownHosts, fingerprint, channels, keepAlive, keepAliveCount, readIdle, Duration.ofSeconds(10), "mux v1");
  }

  static SshSettings good(int channels, Duration keepAlive, int count, Duration readIdle) {
    return settings(Optional.of(sandbox.knownHosts()), Optional.empty(), sandbox.sshKey(), channels, keepAlive, count, readIdle);
  }

  static SshAgentTransport transport(SshSettings s) {
    return new SshAgentTransport("hpc", s, Limits.DEFAULT, Duration.ofSeconds(30));
  }

  /** Records what the transport reports, as the tunnel actor would see it. */
  static final class Events implements TunnelObserver {
    final List<String> seen = new CopyOnWriteArrayList<>();
    @Override public void connecting(String node) { seen.add("connecting " + node); }
    @Override public void up(String node, int channels) { seen.add("up " + node + " " + channels); }
    @Override public void down(String node, String reason) { seen.add("down " + node); }
    @Override public void failed(String node, String reason, boolean fatal) { seen.add((fatal ? "fatal " : "failed ") + node + " " + reason); }
    @Override public void backingOff(Duration delay) { seen.add("backoff"); }
  }

  @Test void connectsWithStrictHostKeyAndServesCallsOverEveryChannel() throws Exception {
    Events events = new Events();
    SshAgentTransport transport = transport(good(2, Duration.ofSeconds(15), 3, Duration.ofSeconds(45)));
    try (AgentConnection conn = transport.connect(events)) {
      assertEquals(2, conn.channelCount());
      // OpenSSH takes the gateway's first choice: AES-GCM, decrypted by the JDK's AES instructions (SshCiphers).
      assertEquals(SshCiphers.PREFERRED, transport.negotiatedCipher());
      String node = sandbox.sshHost() + ":" + sandbox.sshPort();
      assertEquals(List.of("connecting " + node, "up " + node + " 2"), events.seen);
      // Four calls at once spread over both channels; each is answered by the agent on the login node.
      List<java.util.concurrent.CompletableFuture<Messages.Reply>> replies = new ArrayList<>();
      for (int i = 0; i < 4; i++) replies.add(conn.open(new Messages.ListJobs(), true).reply());
      for (var r : replies) assertEquals(200, r.get(30, TimeUnit.SECONDS).status(), "jobs call answered");
      assertTrue(conn.ping().get(10, TimeUnit.SECONDS).toMillis() < 5_000);
    }
  }

  @Test void failsOverToTheNextLoginNodeAndStartsThereNextTime() throws Exception {
    int closedPort;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
      closedPort = s.getLocalPort();                        // nothing listens here once the socket is closed
    }
    SshSettings.LoginNode dead = new SshSettings.LoginNode("127.0.0.1", closedPort);
    SshSettings.LoginNode live = new SshSettings.LoginNode(sandbox.sshHost(), sandbox.sshPort());
    SshSettings s = new SshSettings(List.of(dead, live), sandbox.sshUser(), sandbox.sshKey(), Optional.of(sandbox.knownHosts()),
        Optional.empty(), 1, Duration.ofSeconds(15), 3, Duration.ofSeconds(45), Duration.ofSeconds(5), "mux v1");
    SshAgentTransport transport = transport(s);
    Events events = new Events();
    try (AgentConnection conn = transport.connect(events)) {
      assertEquals(live.toString(), conn.node());
    }
    assertEquals(4, events.seen.size(), events.seen.toString());
    assertEquals("connecting " + dead, events.seen.get(0));
    assertTrue(events.seen.get(1).startsWith("failed " + dead), "a refused connection is not fatal: " + events.seen);
    assertEquals("up " + live + " 1", events.seen.get(3));
    Events again = new Events();
    try (AgentConnection conn = transport.connect(again)) {
      assertEquals(List.of("connecting " + live, "up " + live + " 1"), again.seen, "the node that worked is tried first");
    }
  }

  @Test void theChannelPoolStopsAtWhatSshdsMaxSessionsAllows() throws Exception {
    // The sandbox's sshd allows 3 sessions per connection (bin/hpc-sandbox); asking for 5 must not fail.
    try (AgentConnection conn = transport(good(5, Duration.ofSeconds(15), 3, Duration.ofSeconds(45))).connect(TunnelObserver.NONE)) {
      assertEquals(3, conn.channelCount());
      assertEquals(200, conn.open(new Messages.ListJobs(), true).reply().get(30, TimeUnit.SECONDS).status());
    }
  }

  @Test void pinnedFingerprintIsAccepted() throws Exception {
    SshSettings s = settings(Optional.empty(), Optional.of(sandbox.hostFingerprint()), sandbox.sshKey(), 1,
        Duration.ofSeconds(15), 3, Duration.ofSeconds(45));
    try (AgentConnection conn = transport(s).connect(TunnelObserver.NONE)) {
      assertEquals(1, conn.channelCount());
    }
  }

  @Test void wrongHostKeyIsRefusedAsFatal(@TempDir Path tmp) throws Exception {
    // A known_hosts entry for the right address but another key: a man in the middle, as far as we can tell.
    Path otherKey = tmp.resolve("other");
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", otherKey.toString());
    Path knownHosts = tmp.resolve("known_hosts");
    String pub = Files.readString(Path.of(otherKey + ".pub")).trim().split(" ")[0] + " "
        + Files.readString(Path.of(otherKey + ".pub")).trim().split(" ")[1];
    Files.writeString(knownHosts, "[" + sandbox.sshHost() + "]:" + sandbox.sshPort() + " " + pub + "\n");
    Events events = new Events();
    var failure = expectFailure(transport(settings(Optional.of(knownHosts), Optional.empty(), sandbox.sshKey(), 1,
        Duration.ofSeconds(15), 3, Duration.ofSeconds(45))), events);
    assertTrue(failure.fatal(), "host-key mismatch must not be retried like a network error");
    assertTrue(failure.getMessage().contains("host key not verified"), failure.getMessage());
    assertTrue(events.seen.get(1).startsWith("fatal "), events.seen.toString());

    // An unknown host (empty known_hosts) and a wrong pin are refused the same way: never trust on first use.
    Files.writeString(knownHosts, "");
    assertTrue(expectFailure(transport(settings(Optional.of(knownHosts), Optional.empty(), sandbox.sshKey(), 1,
        Duration.ofSeconds(15), 3, Duration.ofSeconds(45))), TunnelObserver.NONE).fatal());
    String wrongPin = "SHA256:" + "A".repeat(43);
    assertTrue(expectFailure(transport(settings(Optional.empty(), Optional.of(wrongPin), sandbox.sshKey(), 1,
        Duration.ofSeconds(15), 3, Duration.ofSeconds(45))), TunnelObserver.NONE).fatal());
  }

  @Test void unknownKeyIsRefusedAsFatal(@TempDir Path tmp) throws Exception {
    Path stranger = tmp.resolve("stranger");
    run("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", stranger.toString());
    var failure = expectFailure(transport(settings(Optional.of(sandbox.knownHosts()), Optional.empty(), stranger, 1,
        Duration.ofSeconds(15), 3, Duration.ofSeconds(45))), TunnelObserver.NONE);
    assertTrue(failure.fatal());
    assertTrue(failure.getMessage().contains("authentication as " + sandbox.sshUser() + " refused"), failure.getMessage());
  }

  @Test void frozenServerIsDetectedByKeepAlive() throws Exception {
    // Keep-alive every second, three unanswered ones drop the connection; the idle watchdog is set far beyond that.
    assertFreezeDetectedWithin(good(1, Duration.ofSeconds(1), 3, Duration.ofSeconds(60)), 2, 10);
  }

  @Test void frozenServerIsDetectedByTheReadIdleWatchdog() throws Exception {
    // Keep-alive would need 100 misses here: the watchdog, 3 s without a byte, must be what drops the connection.
    assertFreezeDetectedWithin(good(1, Duration.ofSeconds(1), 100, Duration.ofSeconds(3)), 2, 8);
  }

  /** Stops (SIGSTOP) the sshd processes of a fresh connection and checks when the connection is declared dead. */
  private static void assertFreezeDetectedWithin(SshSettings s, long minSeconds, long maxSeconds) throws Exception {
    AgentConnection conn = transport(s).connect(TunnelObserver.NONE);
    List<ProcessHandle> frozen = sandbox.sshConnectionProcesses();
    long start = System.nanoTime();
    HpcSandbox.signal("STOP", frozen);
    try {
      Messages.Problem reason = conn.closed().get(20, TimeUnit.SECONDS);
      long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
      assertTrue(seconds >= minSeconds && seconds <= maxSeconds, "detected after " + seconds + " s: " + reason);
    } finally {
      HpcSandbox.signal("CONT", frozen);
    }
  }

  @Test void linkReconnectsAfterTheConnectionIsKilledAndAfterSshdRestarts() throws Exception {
    Events events = new Events();
    AgentLink link = new AgentLink("hpc", transport(good(2, Duration.ofSeconds(2), 3, Duration.ofSeconds(10))), blocking,
        Duration.ofMillis(200), Duration.ofSeconds(2), Duration.ofSeconds(30), events);
    try {
      AgentConnection first = link.connection().get(30, TimeUnit.SECONDS);
      assertEquals(200, first.open(new Messages.ListJobs(), true).reply().get(30, TimeUnit.SECONDS).status());

      // The TCP connection dies (its sshd process is killed): the next call waits for a new connection and succeeds.
      HpcSandbox.signal("KILL", sandbox.sshConnectionProcesses());
      first.closed().get(10, TimeUnit.SECONDS);
      AgentConnection second = link.connection().get(30, TimeUnit.SECONDS);
      assertNotSame(first, second);
      assertEquals(200, second.open(new Messages.ListJobs(), true).reply().get(30, TimeUnit.SECONDS).status());

      // sshd itself restarts: same again.
      sandbox.restartSshd(HpcSandbox.repoRoot());
      second.closed().get(10, TimeUnit.SECONDS);
      AgentConnection third = link.connection().get(30, TimeUnit.SECONDS);
      assertNotSame(second, third);
      assertEquals(200, third.open(new Messages.ListJobs(), true).reply().get(30, TimeUnit.SECONDS).status());
      assertTrue(events.seen.stream().filter(e -> e.startsWith("up ")).count() >= 3, events.seen.toString());
      assertTrue(events.seen.stream().anyMatch(e -> e.startsWith("down ")), events.seen.toString());
    } finally {
      link.close();
    }
  }

  private static AgentTransport.ConnectFailure expectFailure(SshAgentTransport transport, TunnelObserver observer) {
    try {
      transport.connect(observer).close();
    } catch (AgentTransport.ConnectFailure e) {
      return e;
    } catch (Exception e) {
      fail("expected a ConnectFailure, got " + e);
    }
    return fail("connected although it should not have");
  }

  static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).inheritIO().start();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0, String.join(" ", cmd));
  }
}
