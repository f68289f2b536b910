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
import sluice.core.ids.ServiceId;

/** Core's settings, read once at start-up; any bad value fails there with the key's path. */
public record CoreSettings(String deployment, Map<String, ServiceSettings> services, Map<String, ClusterSettings> clusters,
                           Duration probeInterval, Duration askTimeout, Duration submitRetryMin, Duration submitRetryMax,
                           Recovery recovery, Duration failoverWait) {
  private static final Pattern DEPLOYMENT = Pattern.compile("[a-z0-9][a-z0-9-]{0,31}");

  public CoreSettings {
    services = Map.copyOf(services);
    clusters = Map.copyOf(clusters);
  }

  /** What to do with jobs of this deployment that no service knows. */
  public enum Orphans { ADOPT, CANCEL }

  /**
   * How failures are handled.
   *
   * @param orphans        jobs carrying this deployment's tag that no service knows (e.g. its journal was lost)
   * @param degradedAfter  consecutive replicas failing to start before the service shows as degraded
   * @param assumedStartup start-up time assumed for Retry-After until one has been measured
   */
  public record Recovery(Orphans orphans, int degradedAfter, Duration assumedStartup) {}

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
      if (!ServiceId.isValid(name)) throw new ConfigException.BadValue(path, "cluster names are " + ServiceId.RULE);
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
      if (!ServiceId.isValid(id)) throw new ConfigException.BadValue(path, "service ids are " + ServiceId.RULE);
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
      int healthFailures = c.getInt("health-failures");
      if (healthFailures < 1) throw new ConfigException.BadValue(path + ".health-failures", "must be >= 1");
      var lifecycle = new ServiceSettings.Lifecycle(
          notNegative(c.getDuration("renew-before"), path + ".renew-before"),
          notNegative(c.getDuration("drain-timeout"), path + ".drain-timeout"),
          positive(c.getDuration("ready-timeout"), path + ".ready-timeout"),
          notNegative(c.getDuration("scale-down-delay"), path + ".scale-down-delay"),
          notNegative(c.getDuration("idle-to-zero"), path + ".idle-to-zero"),
          positive(c.getDuration("health-interval"), path + ".health-interval"),
          healthFailures);
      services.put(id, new ServiceSettings(id, cluster, c.getString("owned-by"), c.getStringList("input"),
          c.getStringList("output"), min, max, inflight, maxQueue, positive(c.getDuration("max-queue-wait"), path + ".max-queue-wait"),
          lifecycle, c.getBoolean("usage-per-chunk")));
    }
    return new CoreSettings(deployment, services, clusters,
        positive(s.getDuration("readiness.probe-interval"), "sluice.readiness.probe-interval"),
        positive(s.getDuration("ask-timeout"), "sluice.ask-timeout"),
        positive(s.getDuration("submit-retry.min"), "sluice.submit-retry.min"),
        positive(s.getDuration("submit-retry.max"), "sluice.submit-retry.max"),
        new Recovery(orphans(s.getString("orphans")), atLeastOne(s.getInt("degraded-after"), "sluice.degraded-after"),
            positive(s.getDuration("assumed-startup"), "sluice.assumed-startup")),
        positive(s.getDuration("failover-wait"), "sluice.failover-wait"));
  }

  private static Orphans orphans(String value) {
    return switch (value) {
      case "adopt" -> Orphans.ADOPT;
      case "cancel" -> Orphans.CANCEL;
      default -> throw new ConfigException.BadValue("sluice.orphans", "must be 'adopt' or 'cancel', not '" + value + "'");
    };
  }

  private static int atLeastOne(int n, String path) {
    if (n < 1) throw new ConfigException.BadValue(path, "must be >= 1");
    return n;
  }

  private static Duration notNegative(Duration d, String path) {
    if (d.isNegative()) throw new ConfigException.BadValue(path, "must be >= 0");
    return d;
  }

  private static Duration positive(Duration d, String path) {
    if (d.isNegative() || d.isZero()) throw new ConfigException.BadValue(path, "must be > 0");
    return d;
  }

  /** Service ids may contain dots, which HOCON paths would split. */
  private static String quote(String key) { return "\"" + key + "\""; }
}
