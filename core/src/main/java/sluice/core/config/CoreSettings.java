package sluice.core.config;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.TreeSet;
import java.util.regex.Pattern;

/** Core's settings, read once at start-up; any bad value fails there with the key's path. */
public record CoreSettings(String deployment, Map<String, ServiceSettings> services, Map<String, ClusterSettings> clusters,
                           Duration probeInterval, Duration askTimeout, Duration submitRetryMin, Duration submitRetryMax) {
  public static final Pattern SERVICE_ID = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  private static final Pattern DEPLOYMENT = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

  public CoreSettings {
    services = Map.copyOf(services);
    clusters = Map.copyOf(clusters);
  }

  public Optional<ServiceSettings> service(String id) { return Optional.ofNullable(services.get(id)); }

  public static CoreSettings from(Config root) {
    Config s = root.getConfig("sluice");
    String deployment = s.getString("deployment");
    if (!DEPLOYMENT.matcher(deployment).matches()) {
      throw new ConfigException.BadValue(s.origin(), "sluice.deployment", "must match " + DEPLOYMENT.pattern());
    }
    Map<String, ClusterSettings> clusters = new LinkedHashMap<>();
    Config clusterDefaults = s.getConfig("cluster-defaults");
    for (String name : new TreeSet<>(s.getObject("clusters").keySet())) {
      String path = "sluice.clusters." + name;
      if (!SERVICE_ID.matcher(name).matches()) throw new ConfigException.BadValue(path, "bad cluster name");
      if (s.getObject("clusters").get(name).valueType() != ConfigValueType.OBJECT) {
        throw new ConfigException.WrongType(s.origin(), path, "object", s.getObject("clusters").get(name).valueType().name());
      }
      Config c = s.getConfig("clusters").getConfig(quote(name)).withFallback(clusterDefaults);
      clusters.put(name, new ClusterSettings(name, positive(c.getDuration("poll-interval"), path + ".poll-interval")));
    }

    Map<String, ServiceSettings> services = new LinkedHashMap<>();
    Config serviceDefaults = s.getConfig("service-defaults");
    for (String id : new TreeSet<>(s.getObject("services").keySet())) {
      String path = "sluice.services." + id;
      if (!SERVICE_ID.matcher(id).matches()) throw new ConfigException.BadValue(path, "service ids must match " + SERVICE_ID.pattern());
      Config c = s.getConfig("services").getConfig(quote(id)).withFallback(serviceDefaults);
      String cluster = c.getString("cluster");
      if (!clusters.containsKey(cluster)) {
        throw new ConfigException.BadValue(path + ".cluster", "no cluster named '" + cluster + "' in sluice.clusters");
      }
      int min = c.getInt("min-replicas");
      int max = c.getInt("max-replicas");
      if (min < 0) throw new ConfigException.BadValue(path + ".min-replicas", "must be >= 0");
      if (max < 1 || max < min) throw new ConfigException.BadValue(path + ".max-replicas", "must be >= 1 and >= min-replicas");
      int inflight = c.getInt("max-inflight-per-replica");
      if (inflight < 1) throw new ConfigException.BadValue(path + ".max-inflight-per-replica", "must be >= 1");
      int maxQueue = c.getInt("max-queue");
      if (maxQueue < 0) throw new ConfigException.BadValue(path + ".max-queue", "must be >= 0");
      services.put(id, new ServiceSettings(id, cluster, c.getString("owned-by"), c.getStringList("input"),
          c.getStringList("output"), min, max, inflight, maxQueue, positive(c.getDuration("max-queue-wait"), path + ".max-queue-wait")));
    }
    return new CoreSettings(deployment, services, clusters,
        positive(s.getDuration("readiness.probe-interval"), "sluice.readiness.probe-interval"),
        positive(s.getDuration("ask-timeout"), "sluice.ask-timeout"),
        positive(s.getDuration("submit-retry.min"), "sluice.submit-retry.min"),
        positive(s.getDuration("submit-retry.max"), "sluice.submit-retry.max"));
  }

  private static Duration positive(Duration d, String path) {
    if (d.isNegative() || d.isZero()) throw new ConfigException.BadValue(path, "must be > 0");
    return d;
  }

  /** Service ids may contain dots, which HOCON paths would split. */
  private static String quote(String key) { return "\"" + key + "\""; }
}
