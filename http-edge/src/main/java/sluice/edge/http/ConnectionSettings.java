package sluice.edge.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;

/**
 * How long a connection of the API port may go without a request in flight, how long a request body may take, and
 * how many connections may be open (in all, and from one client address); read from {@code sluice.http.connections}.
 * None of these cuts a request in flight: that is bounded by {@code sluice.http.completion-timeout} and Pekko's
 * {@code idle-timeout}.
 *
 * @param headTimeout   a new connection's first request head must be complete within it
 * @param idleTimeout   a connection with no request in flight is closed after this long without a new request head
 * @param bodyTimeout   a request body must have arrived in full this long after its head
 * @param maxConnections connections open at once (Pekko's {@code max-connections}, set from this key)
 * @param maxPerAddress connections open at once from one client IP address; 0 = no cap
 */
public record ConnectionSettings(Duration headTimeout, Duration idleTimeout, Duration bodyTimeout, int maxConnections,
                                 int maxPerAddress) {
  static final String PATH = "sluice.http.connections";

  public ConnectionSettings {
    if (maxPerAddress > maxConnections) {
      throw new ConfigException.BadValue(PATH + ".max-per-address", "must not be above " + PATH + ".max-connections");
    }
  }

  public static ConnectionSettings from(Config root) {
    Config c = root.getConfig(PATH);
    // Pekko's idle-timeout closes a connection with no bytes flowing; a timeout above it would never fire.
    Duration pekkoIdle = root.getDuration("pekko.http.server.idle-timeout");
    int maxConnections = c.getInt("max-connections");
    if (maxConnections < 1) throw new ConfigException.BadValue(PATH + ".max-connections", "must be at least 1");
    int maxPerAddress = c.getInt("max-per-address");
    if (maxPerAddress < 0) throw new ConfigException.BadValue(PATH + ".max-per-address", "must be 0 (no cap) or more");
    return new ConnectionSettings(timeout(c, "head-timeout", pekkoIdle), timeout(c, "idle-timeout", pekkoIdle),
        timeout(c, "body-timeout", pekkoIdle), maxConnections, maxPerAddress);
  }

  private static Duration timeout(Config c, String key, Duration pekkoIdle) {
    Duration d = c.getDuration(key);
    if (d.isNegative() || d.isZero()) throw new ConfigException.BadValue(PATH + "." + key, "must be positive");
    if (d.compareTo(pekkoIdle) >= 0) {
      throw new ConfigException.BadValue(PATH + "." + key, "must be shorter than pekko.http.server.idle-timeout");
    }
    return d;
  }
}
