package sluice.bridge.ssh;

import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import javax.net.SocketFactory;
import net.schmizz.keepalive.KeepAliveProvider;
import net.schmizz.keepalive.KeepAliveRunner;
import net.schmizz.sshj.DefaultConfig;
import net.schmizz.sshj.SSHClient;
import net.schmizz.sshj.connection.channel.OpenFailException;
import net.schmizz.sshj.connection.channel.direct.Session;
import net.schmizz.sshj.transport.TransportException;
import net.schmizz.sshj.transport.verification.OpenSSHKnownHosts;
import net.schmizz.sshj.userauth.UserAuthException;
import net.schmizz.sshj.common.DisconnectReason;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.agent.wire.Limits;
import sluice.agent.wire.MuxSession;
import sluice.bridge.AgentConnection;
import sluice.bridge.AgentTransport;
import sluice.bridge.StderrTail;
import sluice.core.tunnel.TunnelObserver;

/**
 * The production transport: one SSH connection (sshj) to a login node carrying a small pool of channels, each running
 * the agent through the key's forced command and speaking the mux protocol. Login nodes are tried in order, starting
 * with the last one that worked. Every attempt builds a new {@link SSHClient} (sshj cannot reuse one after a
 * disconnect) from one shared config.
 *
 * <p>Dead peers are found two ways: OpenSSH keep-alive requests with a reply ({@code keepalive@openssh.com}; sshj's
 * default heartbeat cannot notice a dead server), and a read-idle watchdog that closes the socket when nothing at all
 * has arrived for {@code read-idle-timeout}, which also frees writers stuck on a full TCP send buffer.
 */
public final class SshAgentTransport implements AgentTransport {
  private static final Logger LOG = LoggerFactory.getLogger(SshAgentTransport.class);
  private static final ScheduledExecutorService WATCHDOG = Executors.newSingleThreadScheduledExecutor(r -> {
    Thread t = new Thread(r, "ssh-read-idle-watchdog");
    t.setDaemon(true);
    return t;
  });

  private final String cluster;
  private final SshSettings settings;
  private final Limits limits;
  private final Duration handshakeTimeout;
  private final DefaultConfig sshConfig;
  private volatile int preferred;               // index of the node that last worked
  private volatile String negotiatedCipher;

  public SshAgentTransport(String cluster, SshSettings settings, Limits limits, Duration handshakeTimeout) {
    this.cluster = cluster;
    this.settings = settings;
    this.limits = limits;
    this.handshakeTimeout = handshakeTimeout;
    this.sshConfig = new DefaultConfig();
    sshConfig.setKeepAliveProvider(KeepAliveProvider.KEEP_ALIVE);
    sshConfig.setCipherFactories(SshCiphers.ciphers());
    sshConfig.setMACFactories(SshCiphers.macs());
  }

  /** The cipher the last connection agreed on (from the server, which carries the streams), or null before one. */
  String negotiatedCipher() {
    return negotiatedCipher;
  }

  @Override public List<String> nodes() {
    return settings.nodes().stream().map(SshSettings.LoginNode::toString).toList();
  }

  @Override public AgentConnection connect(TunnelObserver observer) throws IOException {
    List<String> problems = new ArrayList<>();
    boolean allFatal = true;
    IOException last = null;
    int n = settings.nodes().size();
    int start = preferred;
    for (int i = 0; i < n; i++) {
      int index = (start + i) % n;
      SshSettings.LoginNode node = settings.nodes().get(index);
      observer.connecting(node.toString());
      try {
        AgentConnection conn = connect(node);
        preferred = index;
        observer.up(node.toString(), conn.channelCount());
        return conn;
      } catch (IOException | RuntimeException e) {
        boolean fatal = isFatal(e);
        String why = describe(node, e);
        observer.failed(node.toString(), why, fatal);
        problems.add(why);
        allFatal &= fatal;
        last = e instanceof IOException io ? io : new IOException(e.getMessage(), e);
        if (i + 1 < n) LOG.warn("cluster {}: {}; trying the next login node", cluster, why);
      }
    }
    throw new ConnectFailure(String.join("; ", problems), allFatal, last);
  }

  private AgentConnection connect(SshSettings.LoginNode node) throws IOException {
    SSHClient ssh = new SSHClient(sshConfig);
    WatchedSocketFactory sockets = new WatchedSocketFactory();
    ScheduledFuture<?> watchdog = null;
    List<MuxSession> channels = new ArrayList<>();
    try {
      ssh.setSocketFactory(sockets);
      int timeoutMs = (int) settings.connectTimeout().toMillis();
      ssh.setConnectTimeout(timeoutMs);
      ssh.getTransport().setTimeoutMs(timeoutMs);
      ssh.getConnection().setTimeoutMs(timeoutMs);     // channel open, exec reply and window waits: set separately
      if (settings.knownHosts().isPresent()) {
        ssh.addHostKeyVerifier(new OpenSSHKnownHosts(settings.knownHosts().get().toFile()));
      } else {
        ssh.addHostKeyVerifier(settings.hostFingerprint().get());
      }
      AtomicReference<String> cipher = new AtomicReference<>();   // set on sshj's reader thread in the key exchange
      ssh.getTransport().addAlgorithmsVerifier(algorithms -> {
        cipher.set(algorithms.getServer2ClientCipherAlgorithm());
        return true;
      });
      ssh.getConnection().getKeepAlive().setKeepAliveInterval((int) settings.keepAliveInterval().toSeconds());
      ((KeepAliveRunner) ssh.getConnection().getKeepAlive()).setMaxAliveCount(settings.keepAliveCount());
      ssh.connect(node.host(), node.port());
      WatchedSocket socket = sockets.last;
      watchdog = WATCHDOG.scheduleAtFixedRate(() -> socket.closeIfIdle(settings.readIdleTimeout(), node.toString()),
          1, 1, TimeUnit.SECONDS);
      ssh.authPublickey(settings.user(), ssh.loadKeys(settings.identityFile().toString()));
      for (int i = 0; i < settings.channels(); i++) {
        Session session;
        try {
          session = ssh.startSession();
        } catch (OpenFailException e) {
          if (channels.isEmpty()) throw e;
          // MaxSessions on the login node is lower than we asked for: use what it allows.
          LOG.warn("{} refused agent channel {} of {} ({}); continuing with {}", node, i + 1, settings.channels(),
              e.getMessage(), channels.size());
          break;
        }
        Session.Command command = session.exec(settings.command());
        StderrTail stderr = StderrTail.start(command.getErrorStream(), cluster + "/" + node + "#" + (i + 1));
        try {
          channels.add(AgentConnection.handshakeChannel(node + "#" + (i + 1), command.getInputStream(),
              command.getOutputStream(), limits, handshakeTimeout));
        } catch (IOException e) {
          throw new IOException(stderr.explain(e.getMessage(), Duration.ofMillis(500)), e);
        }
      }
      ScheduledFuture<?> dog = watchdog;
      negotiatedCipher = cipher.get();
      LOG.info("cluster {}: connected to {} as {} with {} agent channel(s), cipher {}", cluster, node, settings.user(),
          channels.size(), cipher.get());
      return AgentConnection.of(node.toString(), channels, () -> {
        dog.cancel(false);
        disconnectLater(ssh, node);
      });
    } catch (IOException | RuntimeException e) {
      if (watchdog != null) watchdog.cancel(false);
      channels.forEach(MuxSession::close);
      disconnectLater(ssh, node);
      throw e;
    }
  }

  /** Closing may wait for the remote agents to exit; never on the caller's thread. */
  private void disconnectLater(SSHClient ssh, SshSettings.LoginNode node) {
    Thread t = new Thread(() -> {
      try {
        ssh.close();
      } catch (IOException | RuntimeException e) {
        LOG.debug("closing the connection to {}: {}", node, e.getMessage());
      }
    }, "ssh-close-" + node);
    t.setDaemon(true);
    t.start();
  }

  static boolean isFatal(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UserAuthException) return true;
      if (t instanceof TransportException te && te.getDisconnectReason() == DisconnectReason.HOST_KEY_NOT_VERIFIABLE) return true;
      if (t.getCause() == t) break;
    }
    return false;
  }

  private String describe(SshSettings.LoginNode node, Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof UserAuthException) {
        return node + ": authentication as " + settings.user() + " refused (is the gateway's key in authorized_keys, "
            + "and allowed from this address?)";
      }
      if (t instanceof TransportException te && te.getDisconnectReason() == DisconnectReason.HOST_KEY_NOT_VERIFIABLE) {
        return node + ": host key not verified against " + settings.knownHosts().map(Object::toString)
            .orElse("the pinned fingerprint") + " (possible man-in-the-middle, or the host key changed)";
      }
      if (t.getCause() == t) break;
    }
    String msg = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
    return node + ": " + msg;
  }

  /** Sockets with TCP_NODELAY and SO_KEEPALIVE (sshj sets neither) that remember when they last received a byte. */
  private static final class WatchedSocketFactory extends SocketFactory {
    volatile WatchedSocket last;

    @Override public Socket createSocket() throws IOException {
      WatchedSocket s = new WatchedSocket();
      s.setTcpNoDelay(true);
      s.setKeepAlive(true);
      last = s;
      return s;
    }

    @Override public Socket createSocket(String host, int port) { throw new UnsupportedOperationException(); }
    @Override public Socket createSocket(String host, int port, InetAddress local, int localPort) { throw new UnsupportedOperationException(); }
    @Override public Socket createSocket(InetAddress host, int port) { throw new UnsupportedOperationException(); }
    @Override public Socket createSocket(InetAddress a, int port, InetAddress local, int localPort) { throw new UnsupportedOperationException(); }
  }

  private static final class WatchedSocket extends Socket {
    private volatile long lastReadNanos = System.nanoTime();
    private InputStream in;

    @Override public synchronized InputStream getInputStream() throws IOException {
      if (in == null) {
        in = new FilterInputStream(super.getInputStream()) {
          @Override public int read() throws IOException {
            int b = super.read();
            lastReadNanos = System.nanoTime();
            return b;
          }

          @Override public int read(byte[] buf, int off, int len) throws IOException {
            int n = super.read(buf, off, len);
            lastReadNanos = System.nanoTime();
            return n;
          }
        };
      }
      return in;
    }

    void closeIfIdle(Duration limit, String node) {
      if (isClosed() || System.nanoTime() - lastReadNanos < limit.toNanos()) return;
      LOG.warn("nothing received from {} for {} s: closing the connection", node, limit.toSeconds());
      try {
        close();
      } catch (IOException e) {
        LOG.debug("closing idle socket to {}: {}", node, e.getMessage());
      }
    }
  }
}
