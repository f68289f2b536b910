package sluice.edge.http;

import com.typesafe.config.Config;
import java.lang.management.ManagementFactory;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.http.javadsl.server.Route;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.edge.EdgeSettings;

/**
 * Binds the API port: Pekko's server ({@code bindFlow}, which keeps {@code max-connections} and the graceful
 * termination of {@code ServerBinding}) with a {@link ConnectionGuard} in front of the routes on every connection.
 */
public final class ApiServer {
  private static final Logger LOG = LoggerFactory.getLogger(ApiServer.class);
  /** File descriptors the gateway needs besides its connections: jars, logs, journal, agents, cluster, management. */
  static final int OTHER_FILES = 512;

  private ApiServer() {}

  /** Fails with a {@code ConfigException} on a bad {@code sluice.http.connections} setting. */
  public static CompletionStage<ServerBinding> bind(ActorSystem<?> system, EdgeSettings edge, Config config, Route routes) {
    ConnectionSettings settings = ConnectionSettings.from(config);
    warnIfTooFewFileDescriptors(settings.maxConnections());
    var counts = new ConnectionGuard.AddressCounts(settings.maxPerAddress());
    return Http.get(system).newServerAt(edge.interfaceName(), edge.port())
        // Set here so that the one documented key is the one in force; the guard reads the address attribute.
        .adaptSettings(s -> s.withMaxConnections(settings.maxConnections()).withRemoteAddressAttribute(true)
            // A request arriving in the last moment of a shutdown, after Drain has ended the rest (docs/operations.md).
            .withTerminationDeadlineExceededResponse(OpenAiErrors.response(Drain.REFUSED)))
        .bindFlow(ConnectionGuard.around(routes.flow(system), settings, counts));
  }

  /** Past the process's limit, accepting fails with "Too many open files"; say so at start-up, not under load. */
  private static void warnIfTooFewFileDescriptors(int maxConnections) {
    if (ManagementFactory.getOperatingSystemMXBean() instanceof com.sun.management.UnixOperatingSystemMXBean os) {
      long limit = os.getMaxFileDescriptorCount();
      if (limit < (long) maxConnections + OTHER_FILES) {
        LOG.warn("the process may open {} files, fewer than sluice.http.connections.max-connections ({}) + {}: raise "
            + "ulimit -n (systemd: LimitNOFILE) or lower max-connections", limit, maxConnections, OTHER_FILES);
      }
    }
  }
}
