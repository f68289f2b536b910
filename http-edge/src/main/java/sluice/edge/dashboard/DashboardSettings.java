package sluice.edge.dashboard;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * {@code sluice.dashboard}: how often the feed takes the services' state (sent only when it changed) and, while someone
 * watches, queries the usage table.
 */
public record DashboardSettings(Duration stateInterval, Duration trafficInterval) {
  private static final Duration MIN = Duration.ofMillis(100);

  public static DashboardSettings from(Config root) {
    Config c = root.getConfig("sluice.dashboard");
    return new DashboardSettings(atLeastMin(c, "state-interval"), atLeastMin(c, "traffic-interval"));
  }

  private static Duration atLeastMin(Config c, String key) {
    Duration d = c.getDuration(key);
    if (d.compareTo(MIN) < 0) throw new ConfigException.BadValue(c.origin(), "sluice.dashboard." + key, "must be at least 100ms");
    return d;
  }
}
