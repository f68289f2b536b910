package sluice.edge;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import java.util.Optional;

/** The edge's settings, read once from {@code sluice.http}, {@code sluice.management} and {@code sluice.admin}. */
public record EdgeSettings(String interfaceName, int port, long maxBodyBytes, Duration completionTimeout,
                           Duration sseKeepAlive, Duration sseCommitAfter, Duration shutdownDeadline,
                           int managementPort, Optional<String> adminKey) {
  /** The dispatcher for blocking work: JWKS fetches, usage inserts and queries, starting agents (reference.conf). */
  public static final String BLOCKING_DISPATCHER = "sluice.blocking-dispatcher";

  public static EdgeSettings from(Config root) {
    Config h = root.getConfig("sluice.http");
    int port = h.getInt("port");
    if (port < 0 || port > 65535) throw new ConfigException.BadValue("sluice.http.port", "must be in [0, 65535]");
    long maxBody = h.getBytes("max-body-size");
    if (maxBody < 1024) throw new ConfigException.BadValue("sluice.http.max-body-size", "must be at least 1 KiB");
    Duration keepAlive = h.getDuration("sse-keep-alive");
    Duration idle = root.getDuration("pekko.http.server.idle-timeout");
    if (keepAlive.compareTo(idle) >= 0) {
      throw new ConfigException.BadValue("sluice.http.sse-keep-alive", "must be shorter than pekko.http.server.idle-timeout");
    }
    Duration completion = h.getDuration("completion-timeout");
    if (completion.compareTo(idle) >= 0) {
      throw new ConfigException.BadValue("sluice.http.completion-timeout", "must be shorter than pekko.http.server.idle-timeout");
    }
    String admin = root.getString("sluice.admin.key");
    if (!admin.isEmpty() && admin.length() < 16) {
      throw new ConfigException.BadValue("sluice.admin.key", "must be at least 16 characters");
    }
    return new EdgeSettings(h.getString("interface"), port, maxBody, completion, keepAlive,
        h.getDuration("sse-commit-after"), h.getDuration("shutdown-deadline"), root.getInt("sluice.management.port"),
        admin.isEmpty() ? Optional.empty() : Optional.of(admin));
  }
}
