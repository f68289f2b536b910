package sluice.edge;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * {@code sluice.cluster}: the gateway nodes as one Pekko cluster (not to be confused with {@code sluice.clusters}, the
 * HPC clusters). Mapped onto {@code pekko.remote.artery}, {@code pekko.cluster} (seed nodes, the split brain
 * resolver's keep-majority) and, with contact points, Pekko Management's cluster bootstrap with config discovery.
 *
 * @param seedNodes    Artery addresses ("host:port") of the seed nodes; empty without bootstrap: a cluster of one
 * @param contactPoints management endpoints ("host:port") for cluster bootstrap; empty: bootstrap off
 */
public record GatewayCluster(String host, int port, List<Endpoint> seedNodes, List<Endpoint> contactPoints,
                             int requiredContactPoints, Duration stableAfter, Duration unreadyDelay) {
  /** The actor system's name: part of every node's address. */
  public static final String SYSTEM_NAME = "sluice";
  static final Duration AUTO_UNREADY_DELAY = Duration.ofSeconds(3);
  private static final Pattern ENDPOINT = Pattern.compile("([A-Za-z0-9.\\-]+|\\[[0-9A-Fa-f:.]+\\]):(\\d{1,5})");

  public record Endpoint(String host, int port) {
    static Endpoint parse(String key, String text) {
      Matcher m = ENDPOINT.matcher(text == null ? "" : text.trim());
      int port = m.matches() ? Integer.parseInt(m.group(2)) : -1;
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException(key + ": '" + text + "' is not host:port (a port in 1..65535)");
      }
      return new Endpoint(m.group(1), port);
    }

    String uri() { return "pekko://" + SYSTEM_NAME + "@" + host + ":" + port; }
  }

  public GatewayCluster {
    seedNodes = List.copyOf(seedNodes);
    contactPoints = List.copyOf(contactPoints);
  }

  public static GatewayCluster from(Config root) {
    Config c = root.getConfig("sluice.cluster");
    int port = c.getInt("port");
    if (port < 0 || port > 65535) throw new IllegalArgumentException("sluice.cluster.port must be in 0..65535, not " + port);
    String host = c.getString("host").trim();
    if (host.isEmpty()) throw new IllegalArgumentException("sluice.cluster.host must not be empty");
    List<Endpoint> seeds = endpoints(c, "seed-nodes");
    List<Endpoint> contacts = endpoints(c, "bootstrap.contact-points");
    if (!seeds.isEmpty() && !contacts.isEmpty()) {
      throw new IllegalArgumentException("sluice.cluster: set seed-nodes or bootstrap.contact-points, not both");
    }
    if ((!seeds.isEmpty() || !contacts.isEmpty()) && port == 0) {
      throw new IllegalArgumentException("sluice.cluster.port must be fixed (not 0) when the gateway joins other nodes");
    }
    int required = c.getInt("bootstrap.required-contact-points");
    if (required < 1) throw new IllegalArgumentException("sluice.cluster.bootstrap.required-contact-points must be at least 1");
    Duration stableAfter = c.getDuration("stable-after");
    boolean joins = !seeds.isEmpty() || !contacts.isEmpty();
    // auto: long enough for docker/haproxy.cfg's checks (1 s apart, 2 failures) on a node of a cluster, none alone
    Duration unreadyDelay = c.getString("unready-delay").equals("auto") ? (joins ? AUTO_UNREADY_DELAY : Duration.ZERO)
        : c.getDuration("unready-delay");
    if (stableAfter.toMillis() < 1000) throw new IllegalArgumentException("sluice.cluster.stable-after must be at least 1s");
    if (unreadyDelay.isNegative()) throw new IllegalArgumentException("sluice.cluster.unready-delay must not be negative");
    return new GatewayCluster(host, port, seeds, contacts, required, stableAfter, unreadyDelay);
  }

  private static List<Endpoint> endpoints(Config c, String key) {
    List<Endpoint> out = new ArrayList<>();
    for (String s : c.getStringList(key)) out.add(Endpoint.parse("sluice.cluster." + key, s));
    return out;
  }

  /** Whether other nodes may join: then every node must share one database that is not an embedded H2 file. */
  public boolean multiNode() {
    return !contactPoints.isEmpty() || seedNodes.size() > 1
        || (seedNodes.size() == 1 && !seedNodes.get(0).equals(new Endpoint(host, port)));
  }

  public boolean bootstrap() { return !contactPoints.isEmpty(); }

  /** {@code root} with these settings written into Pekko's keys (deployment files set {@code sluice.cluster} only). */
  public Config applyTo(Config root) {
    Map<String, Object> pekko = new LinkedHashMap<>();
    pekko.put("pekko.remote.artery.canonical.hostname", host);
    pekko.put("pekko.remote.artery.canonical.port", port);
    pekko.put("pekko.cluster.seed-nodes", seedNodes.stream().map(Endpoint::uri).toList());
    pekko.put("pekko.cluster.split-brain-resolver.active-strategy", "keep-majority");
    pekko.put("pekko.cluster.split-brain-resolver.stable-after", stableAfter.toMillis() + "ms");
    // The unready delay runs in this phase; Pekko's default timeout (5 s) would cut a longer one short.
    pekko.put("pekko.coordinated-shutdown.phases.before-service-unbind.timeout", unreadyDelay.plusSeconds(5).toMillis() + "ms");
    if (bootstrap()) {
      pekko.put("pekko.management.cluster.bootstrap.contact-point-discovery.service-name", SYSTEM_NAME);
      pekko.put("pekko.management.cluster.bootstrap.contact-point-discovery.discovery-method", "config");
      pekko.put("pekko.management.cluster.bootstrap.contact-point-discovery.required-contact-point-nr", requiredContactPoints);
      pekko.put("pekko.discovery.config.services." + SYSTEM_NAME + ".endpoints", contactPoints.stream()
          .map(e -> Map.of("host", e.host(), "port", e.port())).toList());
    }
    return ConfigFactory.parseMap(pekko).withFallback(root).resolve();
  }

  /** For the log line at start. */
  public String describe() {
    if (bootstrap()) return "bootstrap from " + contactPoints.size() + " contact points";
    if (!multiNode()) return "a cluster of one";
    return "seed nodes " + seedNodes.stream().map(e -> e.host() + ":" + e.port()).toList();
  }
}
