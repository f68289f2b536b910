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

  public static Map<String, BridgeClusterGateway> create(Config root, CoreSettings core, Executor blocking, Executor callbacks) {
    Map<String, BridgeClusterGateway> out = new LinkedHashMap<>();
    for (String name : core.clusters().keySet()) {
      BridgeSettings s = BridgeSettings.from(root, name);
      AgentTransport transport = new LocalAgentTransport(name, s.agentCommand(), Limits.DEFAULT, s.handshakeTimeout());
      AgentLink link = new AgentLink(name, transport, blocking, s.minBackoff(), s.maxBackoff(), s.connectWait());
      out.put(name, new BridgeClusterGateway(name, core.deployment(), link, callbacks, s.controlTimeout()));
    }
    return out;
  }
}
