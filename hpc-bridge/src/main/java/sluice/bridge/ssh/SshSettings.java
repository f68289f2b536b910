package sluice.bridge.ssh;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * How the gateway reaches one cluster's agent over SSH: its login nodes in failover order, the account and key, and
 * exactly one way of checking the server's host key (a known_hosts file or a pinned {@code SHA256:} fingerprint;
 * sshj accepts a host if any verifier does, so two would mean either, not both).
 */
public record SshSettings(List<LoginNode> nodes, String user, Path identityFile, Optional<Path> knownHosts,
                          Optional<String> hostFingerprint, int channels, Duration keepAliveInterval, int keepAliveCount,
                          Duration readIdleTimeout, Duration connectTimeout, String command) {
  private static final Pattern USER = Pattern.compile("[a-z_][a-z0-9_.-]{0,31}\\$?", Pattern.CASE_INSENSITIVE);
  private static final Pattern FINGERPRINT = Pattern.compile("SHA256:[A-Za-z0-9+/]{43}=?");
  /** The agent's own verbs; the forced command on the login node refuses everything else anyway. */
  private static final Pattern COMMAND = Pattern.compile("mux v1");

  public record LoginNode(String host, int port) {
    private static final Pattern HOST = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]{0,252})|\\[[0-9A-Fa-f:.]+\\]");

    public LoginNode {
      if (host == null || !HOST.matcher(host).matches()) throw new IllegalArgumentException("bad login node host: " + host);
      if (port < 1 || port > 65535) throw new IllegalArgumentException("bad port: " + port);
    }

    /** {@code host}, {@code host:port} or {@code [v6]:port}. */
    public static LoginNode parse(String spec) {
      String s = spec.trim();
      int colon = s.lastIndexOf(':');
      if (colon > 0 && (s.indexOf(':') == colon || s.startsWith("["))) {
        try {
          return new LoginNode(s.substring(0, colon), Integer.parseInt(s.substring(colon + 1)));
        } catch (NumberFormatException e) {
          throw new IllegalArgumentException("bad port in login node " + spec);
        }
      }
      return new LoginNode(s, 22);
    }

    /** How the node is named in logs and in the tunnel status. */
    @Override public String toString() { return port == 22 ? host : host + ":" + port; }
  }

  public SshSettings {
    nodes = List.copyOf(nodes);
    if (nodes.isEmpty()) throw new IllegalArgumentException("ssh.login-nodes must name at least one login node");
    if (user == null || !USER.matcher(user).matches()) throw new IllegalArgumentException("ssh.user is not a valid user name: " + user);
    if (knownHosts.isPresent() == hostFingerprint.isPresent()) {
      throw new IllegalArgumentException("set exactly one of ssh.known-hosts and ssh.host-fingerprint (strict host-key checking)");
    }
    hostFingerprint.ifPresent(f -> {
      if (!FINGERPRINT.matcher(f).matches()) throw new IllegalArgumentException("ssh.host-fingerprint must look like SHA256:<43 base64 chars>");
    });
    if (channels < 1 || channels > 8) throw new IllegalArgumentException("ssh.channels must be 1..8 (OpenSSH MaxSessions defaults to 10)");
    if (keepAliveInterval.toSeconds() < 1) throw new IllegalArgumentException("ssh.keep-alive.interval must be at least 1s");
    if (keepAliveCount < 1) throw new IllegalArgumentException("ssh.keep-alive.count must be at least 1");
    if (readIdleTimeout.compareTo(keepAliveInterval) <= 0) {
      throw new IllegalArgumentException("ssh.read-idle-timeout must be longer than ssh.keep-alive.interval");
    }
    if (!COMMAND.matcher(command).matches()) throw new IllegalArgumentException("ssh.command must be 'mux v1'");
  }
}
