package sluice.bridge;

import com.typesafe.config.Config;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Executor;
import sluice.agent.wire.Limits;
import sluice.bridge.local.LocalAgentTransport;
import sluice.core.config.CoreSettings;

/** Builds one gateway per configured cluster. */
public final class Bridges {
  private Bridges() {}

  /** Reads and checks every cluster's settings; call before starting anything, so bad config fails early. */
  public static Map<String, BridgeSettings> settings(Config root, CoreSettings core) {
    Map<String, BridgeSettings> out = new LinkedHashMap<>();
    for (String name : core.clusters().keySet()) out.put(name, BridgeSettings.from(root, name));
    return out;
  }

  public static Map<String, BridgeClusterGateway> create(Map<String, BridgeSettings> settings, CoreSettings core,
                                                         Executor blocking, Executor callbacks) {
    Map<String, BridgeClusterGateway> out = new LinkedHashMap<>();
    settings.forEach((name, s) -> {
      AgentTransport transport = new LocalAgentTransport(name, s.agentCommand(), Limits.DEFAULT, s.handshakeTimeout());
      AgentLink link = new AgentLink(name, transport, blocking, s.minBackoff(), s.maxBackoff(), s.connectWait());
      out.put(name, new BridgeClusterGateway(name, core.deployment(), link, callbacks, s.controlTimeout()));
    });
    return out;
  }

}
