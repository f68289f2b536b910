package sluice.bridge;

import com.typesafe.config.Config;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import sluice.agent.wire.Limits;
import java.util.function.Function;
import sluice.bridge.local.LocalAgentTransport;
import sluice.bridge.ssh.SshAgentTransport;
import sluice.core.tunnel.TunnelObserver;
import sluice.core.config.CoreSettings;
import sluice.core.metrics.SluiceMetrics;

/** Builds one gateway per configured cluster. */
public final class Bridges {
  private Bridges() {}

  /** Reads and checks every cluster's settings; call before starting anything, so bad config fails early. */
  public static Map<String, BridgeSettings> settings(Config root, CoreSettings core) {
    Map<String, BridgeSettings> out = new LinkedHashMap<>();
    for (String name : core.clusters().keySet()) out.put(name, BridgeSettings.from(root, name));
    return out;
  }

  /** The transport each cluster's settings ask for. */
  public static AgentTransport transport(BridgeSettings s) {
    return s.ssh().<AgentTransport>map(ssh -> new SshAgentTransport(s.cluster(), ssh, Limits.DEFAULT, s.handshakeTimeout()))
        .orElseGet(() -> new LocalAgentTransport(s.cluster(), s.agentCommand(), Limits.DEFAULT, s.handshakeTimeout()));
  }

  /**
   * One gateway per cluster over the given transports; each reports its connections to {@code observers} (by cluster),
   * and gets back a sampler for the tunnel status. The protocol problems their calls meet are counted in {@code metrics}.
   */
  public static Map<String, BridgeClusterGateway> create(Map<String, BridgeSettings> settings, Map<String, AgentTransport> transports,
                                                         CoreSettings core, Executor blocking, Executor callbacks,
                                                         Function<String, TunnelObserver> observers, SluiceMetrics metrics) {
    Map<String, BridgeClusterGateway> out = new LinkedHashMap<>();
    AgentProblems problems = AgentProblems.of(metrics);
    settings.forEach((name, s) -> {
      AgentLink link = new AgentLink(name, transports.get(name), blocking, s.minBackoff(), s.maxBackoff(), s.connectWait(),
          observers.apply(name), problems);
      // Slightly under the poll interval, so each round of polls shares one listing and the next round gets a new one.
      Duration reuse = core.clusters().get(name).pollInterval().multipliedBy(9).dividedBy(10);
      out.put(name, new BridgeClusterGateway(name, core.deployment(), link, callbacks, s.timeouts(), reuse));
    });
    return out;
  }

}
