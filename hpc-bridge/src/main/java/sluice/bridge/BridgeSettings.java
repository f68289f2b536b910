package sluice.bridge;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import sluice.bridge.local.LocalAgentTransport;
import sluice.bridge.ssh.SshSettings;

/** How the gateway reaches one cluster: {@code sluice.clusters.<name>} over {@code sluice.cluster-defaults}. */
public record BridgeSettings(String cluster, Transport transport, Duration connectWait, Duration handshakeTimeout,
                             Duration controlTimeout, Duration pingTimeout, Duration responseSilenceTimeout,
                             Duration minBackoff, Duration maxBackoff,
                             boolean cancelJobsOnShutdown, List<String> agentCommand, Optional<SshSettings> ssh) {
  public enum Transport { LOCAL, SSH }

  public static BridgeSettings from(Config root, String cluster) {
    String path = "sluice.clusters." + cluster;
    Config c = root.getConfig("sluice.clusters").getConfig("\"" + cluster + "\"").withFallback(root.getConfig("sluice.cluster-defaults"));
    Transport transport;
    try {
      transport = Transport.valueOf(c.getString("transport").toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(path + ".transport", "must be local or ssh");
    }
    Optional<SshSettings> ssh = transport == Transport.SSH ? Optional.of(ssh(c.getConfig("ssh"), path + ".ssh")) : Optional.empty();
    List<String> command = transport == Transport.LOCAL ? localCommand(c, path) : List.of();
    Duration ping = c.getDuration("ping-timeout");
    if (ping.isZero() || ping.isNegative()) throw new ConfigException.BadValue(path + ".ping-timeout", "must be positive");
    Duration silence = c.getDuration("response-silence-timeout");
    if (silence.isNegative()) throw new ConfigException.BadValue(path + ".response-silence-timeout", "must be 0 (off) or positive");
    return new BridgeSettings(cluster, transport, c.getDuration("connect-wait"), c.getDuration("handshake-timeout"),
        c.getDuration("control-timeout"), ping, silence, c.getDuration("reconnect.min-backoff"),
        c.getDuration("reconnect.max-backoff"), c.getBoolean("cancel-jobs-on-shutdown"), command, ssh);
  }

  /** The bounds of calls through the bridge. */
  public BridgeClusterGateway.Timeouts timeouts() {
    return new BridgeClusterGateway.Timeouts(controlTimeout, pingTimeout, responseSilenceTimeout);
  }

  private static List<String> localCommand(Config c, String path) {
    List<String> command = c.getStringList("local.agent-command");
    if (!command.isEmpty()) return command;
    String agentConfig = c.getString("local.agent-config");
    if (agentConfig.isBlank()) {
      throw new ConfigException.BadValue(path + ".local.agent-config", "set the agent's config file (or local.agent-command)");
    }
    Path file = Path.of(agentConfig).toAbsolutePath().normalize();
    if (!file.toFile().isFile()) throw new ConfigException.BadValue(path + ".local.agent-config", "no such file: " + file);
    String stateDir = c.getString("local.state-dir");
    return LocalAgentTransport.defaultCommand(file,
        stateDir.isBlank() ? Optional.empty() : Optional.of(Path.of(stateDir).toAbsolutePath().normalize()));
  }

  private static SshSettings ssh(Config c, String path) {
    List<String> nodes = c.getStringList("login-nodes");
    Path identity = file(c, "identity-file", path).orElseThrow(() ->
        new ConfigException.BadValue(path + ".identity-file", "set the gateway's private key file"));
    try {
      return new SshSettings(nodes.stream().map(SshSettings.LoginNode::parse).toList(), c.getString("user"), identity,
          file(c, "known-hosts", path), c.getString("host-fingerprint").isBlank() ? Optional.empty()
              : Optional.of(c.getString("host-fingerprint").trim()),
          c.getInt("channels"), c.getDuration("keep-alive.interval"), c.getInt("keep-alive.count"),
          c.getDuration("read-idle-timeout"), c.getDuration("connect-timeout"), c.getString("command"));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(path, e.getMessage());
    }
  }

  /** An optional readable file: empty string = not set. */
  private static Optional<Path> file(Config c, String key, String path) {
    String value = c.getString(key);
    if (value.isBlank()) return Optional.empty();
    Path file = Path.of(value).toAbsolutePath().normalize();
    if (!Files.isReadable(file)) throw new ConfigException.BadValue(path + "." + key, "cannot read " + file);
    return Optional.of(file);
  }
}
