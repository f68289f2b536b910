package sluice.bridge.local;

import java.io.File;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.bridge.AgentConnection;
import sluice.bridge.AgentTransport;
import sluice.bridge.StderrTail;
import sluice.agent.ClassDataSharing;
import sluice.agent.wire.Limits;
import sluice.core.tunnel.TunnelObserver;

/**
 * The embedded default: starts the agent as a child process and speaks the protocol over its stdin/stdout, exactly
 * the bytes an SSH channel to a login node would carry. The agent's stderr is copied to the gateway's log.
 */
public final class LocalAgentTransport implements AgentTransport {
  private static final Logger LOG = LoggerFactory.getLogger(LocalAgentTransport.class);

  private final String cluster;
  private final List<String> command;
  private final Limits limits;
  private final Duration handshakeTimeout;
  private Started prestarted;                    // started by prestart(), not yet taken by connect()

  /** An agent process, its stderr already copied to the log (a full pipe would stall its start). */
  private record Started(Process process, StderrTail stderr) {}

  public LocalAgentTransport(String cluster, List<String> command, Limits limits, Duration handshakeTimeout) {
    if (command.isEmpty()) throw new IllegalArgumentException("agent command is empty");
    this.cluster = cluster;
    this.command = List.copyOf(command);
    this.limits = limits;
    this.handshakeTimeout = handshakeTimeout;
  }

  /**
   * The agent from the gateway's own class path, run by the gateway's own java, in a session of its own: a Ctrl-C in
   * the gateway's terminal must not kill the agent before the gateway has used it to shut down cleanly. The agent's
   * life is bound to its stdin instead. It maps the class-data archive the build made for it, when there is one.
   * {@code stateDir}, when given, replaces the agent config's state-dir.
   */
  public static List<String> defaultCommand(Path agentConfig, Optional<Path> stateDir) {
    List<String> cmd = new ArrayList<>();
    if (new File("/usr/bin/setsid").canExecute()) cmd.add("/usr/bin/setsid");
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    String classPath = System.getProperty("java.class.path");
    // Out of memory, the agent ends (its streams fail, the link starts a new one) rather than limp on half-broken.
    // G1 in 320 MiB: 10,000 open streams hold ~190 MB, which the serial collector's old generation in 256 MiB met with
    // full collections of up to 0.8 s every few seconds, stalling every stream (docs/operations.md "Agent").
    cmd.addAll(List.of("-Xmx320m", "-XX:+UseG1GC", "-XX:+ExitOnOutOfMemoryError"));
    cmd.addAll(ClassDataSharing.options(classPath, "agent", System.getenv()));
    cmd.addAll(List.of("-cp", classPath, "sluice.agent.AgentMain", "--config", agentConfig.toString()));
    stateDir.ifPresent(dir -> cmd.addAll(List.of("--state-dir", dir.toString())));
    return cmd;
  }

  /** The one "node" of a local cluster, as the tunnel status shows it. */
  public static final String NODE = "local";

  /**
   * Starts the agent's process now: its JVM starts while the gateway's migrates and starts its actor system, and the
   * first {@link #connect} finds it ready (docs/operations.md "Fast start"). A failure here is only logged.
   */
  @Override public synchronized void prestart() {
    if (prestarted != null) return;
    try {
      prestarted = start();
    } catch (IOException e) {
      LOG.warn("could not start the agent of cluster {} ahead of time ({}); the first connection will try again", cluster,
          e.getMessage());
    }
  }

  @Override public synchronized void discardPrestarted() {
    if (prestarted != null) prestarted.process().destroyForcibly();
    prestarted = null;
  }

  /** The prestarted process, even one that has exited: the handshake then fails with what it wrote to stderr. */
  private synchronized Started takePrestarted() {
    Started p = prestarted;
    prestarted = null;
    return p;
  }

  private Started start() throws IOException {
    Process process = new ProcessBuilder(command).start();
    LOG.info("started agent for cluster {} as pid {}", cluster, process.pid());
    return new Started(process, StderrTail.start(process.getErrorStream(), cluster));
  }

  @Override public AgentConnection connect(TunnelObserver observer) throws IOException {
    observer.connecting(NODE);
    try {
      Started early = takePrestarted();
      Started started = early != null ? early : start();
      Process process = started.process();
      StderrTail stderr = started.stderr();
      AgentConnection conn;
      try {
        conn = AgentConnection.handshake(NODE, process.getInputStream(), process.getOutputStream(), limits,
            handshakeTimeout, () -> stop(process));
      } catch (IOException e) {
        throw new IOException(stderr.explain(e.getMessage(), Duration.ofMillis(500)), e);
      }
      observer.up(NODE, conn.channelCount());
      return conn;
    } catch (IOException | RuntimeException e) {
      observer.failed(NODE, String.valueOf(e.getMessage()), false);
      throw e;
    }
  }

  /** The session has ended, which closed the agent's stdin: it exits by itself; insist only if it does not. */
  private void stop(Process process) {
    process.onExit().orTimeout(5, TimeUnit.SECONDS).whenComplete((p, err) -> {
      if (err != null) {
        LOG.warn("agent pid {} of cluster {} did not exit after its stdin closed; killing it", process.pid(), cluster);
        process.destroyForcibly();
      } else {
        LOG.info("agent pid {} of cluster {} exited with {}", process.pid(), cluster, p.exitValue());
      }
    });
  }
}
