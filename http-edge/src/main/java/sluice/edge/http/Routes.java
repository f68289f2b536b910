package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.extractUnmatchedPath;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.post;

import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.Executor;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.cluster.typed.Cluster;
import sluice.core.cluster.ClusterGateways;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.service.ServiceDirectory;
import sluice.core.tunnel.Tunnels;
import sluice.core.user.UserDirectory;
import sluice.edge.EdgeSettings;
import sluice.edge.dashboard.DashboardFeed;
import sluice.edge.dashboard.DashboardSettings;
import sluice.edge.observe.LogFormat;
import sluice.edge.observe.RequestLog;
import sluice.edge.observe.RequestMeters;
import sluice.persistence.StorageHealth;
import sluice.persistence.usage.UsageStore;
import sluice.persistence.usage.UsageWriter;

/**
 * The HTTP API, composed from one route class per resource: the OpenAI API ({@link ApiRoutes}, {@link ModelRoutes})
 * under {@code /v1}, and the admin API ({@link ServiceAdminRoutes}, {@link UserAdminRoutes}, {@link UsageRoutes})
 * under {@code /admin}, and the operator dashboard ({@link DashboardRoutes}). {@link EdgeDirectives} holds what they share.
 */
public final class Routes {
  /** What the routes need from the rest of the gateway. */
  public record Parts(EdgeSettings settings, Authenticator auth, UserDirectory users, ServiceDirectory services,
                      ClusterGateways clusters, Tunnels tunnels, UsageStore usageStore, UsageWriter usage,
                      StorageHealth storage, Drain drain, Executor blocking, Clock clock, ActorSystem<?> system) {}

  private final EdgeDirectives directives;
  private final ApiRoutes api;
  private final ModelRoutes models;
  private final ServiceAdminRoutes serviceAdmin;
  private final UserAdminRoutes userAdmin;
  private final UsageRoutes usage;
  private final DashboardRoutes dashboard;
  private final RequestLedger.Accounts accounts;

  public Routes(Parts p) {
    this.directives = new EdgeDirectives(p.auth(), p.settings().adminKey(), p.storage(), p.drain());
    var meters = new RequestMeters(SluiceMetrics.get(p.system()), p.services().ids());
    var log = new RequestLog(LogFormat.json(p.system().settings().config()),
        Cluster.get(p.system()).selfMember().address().hostPort(), p.services().ids());
    this.accounts = new RequestLedger.Accounts(p.users(), p.usage(), p.clock(), p.drain(), meters, log);
    this.api = new ApiRoutes(p.settings(), p.services(), new Proxy(p.services(), p.clusters(), p.settings(), p.drain(), p.system()),
        accounts, p.system());
    this.models = new ModelRoutes(p.services(), p.users(), p.clock());
    this.serviceAdmin = new ServiceAdminRoutes(p.services(), p.tunnels());
    this.userAdmin = new UserAdminRoutes(p.users(), p.clock());
    this.usage = new UsageRoutes(p.usageStore(), p.usage(), p.blocking());
    DashboardFeed feed = DashboardFeed.start(p.system(), p.services(), p.tunnels(), p.usageStore(), p.blocking(),
        DashboardSettings.from(p.system().settings().config()), p.settings().sseKeepAlive(), p.clock());
    this.dashboard = new DashboardRoutes(feed::stream);
  }

  public Route all() {
    return directives.withRequestId(requestId -> EdgeDirectives.jsonTimeouts(() -> directives.handleErrors(() -> concat(
        pathPrefix("v1", () -> extractUnmatchedPath(rest -> {
          Instant startedAt = accounts.clock().instant();
          return directives.authenticated(
              denied -> RequestLedger.unauthenticated(accounts, requestId, "/v1" + rest, startedAt, denied),
              caller -> concat(
                  models.routes(caller),
                  post(() -> directives.whenTaking(() -> api.call("/v1" + rest, caller, requestId)))));
        })),
        pathPrefix("admin", () -> directives.admin(() -> directives.whenWritableOrReading(() ->
            concat(serviceAdmin.routes(), userAdmin.routes(), usage.routes(), dashboard.events())))),
        dashboard.page()))));
  }
}
