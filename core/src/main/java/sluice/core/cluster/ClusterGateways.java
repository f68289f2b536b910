package sluice.core.cluster;

import java.util.Map;

/** The gateways of the configured clusters, by cluster name. */
public record ClusterGateways(Map<String, ClusterGateway> byName) {
  public ClusterGateways {
    byName = Map.copyOf(byName);
  }

  public ClusterGateway get(String cluster) {
    ClusterGateway g = byName.get(cluster);
    if (g == null) throw new IllegalArgumentException("no cluster named " + cluster);
    return g;
  }
}
