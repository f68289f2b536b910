package sluice.bridge;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/** How the gateway reaches one cluster: {@code sluice.clusters.<name>} over {@code sluice.cluster-defaults}. */
public record BridgeSettings(String cluster, Transport transport, Duration connectWait, Duration handshakeTimeout,
                             Duration controlTimeout, Duration minBackoff, Duration maxBackoff,
                             boolean cancelJobsOnShutdown, List<String> agentCommand) {
  public enum Transport { LOCAL, SSH }

  public static BridgeSettings from(Config root, String cluster) {
    String path = "sluice.clusters." + cluster;
    Config c = root.getConfig("sluice.clusters").getConfig("\"" + cluster + "\"").withFallback(root.getConfig("sluice.cluster-defaults"));
    Transport transport;
    try {
      transport = Transport.valueOf(c.getString("transport").toUpperCase(java.util.Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(path + ".transport", "must be local or ssh");
    }
    if (transport == Transport.SSH) {
      throw new ConfigException.BadValue(path + ".transport", "the ssh transport is not available in this version; use local");
    }
    List<String> command = c.getStringList("local.agent-command");
    if (command.isEmpty()) {
      String agentConfig = c.getString("local.agent-config");
      if (agentConfig.isBlank()) {
        throw new ConfigException.BadValue(path + ".local.agent-config", "set the agent's config file (or local.agent-command)");
      }
      Path file = Path.of(agentConfig).toAbsolutePath().normalize();
      if (!file.toFile().isFile()) throw new ConfigException.BadValue(path + ".local.agent-config", "no such file: " + file);
      command = sluice.bridge.local.LocalAgentTransport.defaultCommand(file);
    }
    return new BridgeSettings(cluster, transport, c.getDuration("connect-wait"), c.getDuration("handshake-timeout"),
        c.getDuration("control-timeout"), c.getDuration("reconnect.min-backoff"), c.getDuration("reconnect.max-backoff"),
        c.getBoolean("cancel-jobs-on-shutdown"), command);
  }
}
