package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;
import static sluice.edge.http.EdgeDirectives.json;
import static sluice.edge.http.EdgeDirectives.refuse;
import static sluice.edge.http.FutureRoutes.onSuccess;

import java.time.Duration;
import java.util.Set;
import java.util.function.Supplier;
import org.apache.pekko.http.javadsl.server.Route;
import sluice.core.AdminRefusal;
import sluice.core.service.AdminReply;
import sluice.core.service.ServiceDirectory;
import sluice.core.tunnel.Tunnels;

/**
 * {@code /admin/services} and {@code /admin/tunnels}: each service's live actor state, an operator's replica bounds and
 * drains, and this node's connections to the login nodes.
 */
final class ServiceAdminRoutes {
  private static final Duration TUNNEL_ANSWER = Duration.ofSeconds(3);

  private final ServiceDirectory services;
  private final Tunnels tunnels;

  ServiceAdminRoutes(ServiceDirectory services, Tunnels tunnels) {
    this.services = services;
    this.tunnels = tunnels;
  }

  Route routes() {
    return concat(
        path("services", () -> get(() -> onSuccess(services.statuses(), s -> json(AdminJson.services(s))))),
        path("tunnels", () -> get(() -> onSuccess(tunnels.statuses(TUNNEL_ANSWER), t -> json(AdminJson.tunnels(t))))),
        path(segment("services").slash(segment()), id -> get(() -> known(id, () ->
            onSuccess(services.status(id), s -> json(AdminJson.service(s)))))),
        path(segment("services").slash(segment()).slash("scale"), id -> post(() -> known(id, () -> scale(id)))),
        path(segment("services").slash(segment()).slash("replicas").slash(segment()).slash("drain"),
            (id, job) -> post(() -> known(id, () -> onSuccess(services.drain(id, job), ServiceAdminRoutes::reply)))));
  }

  /** {@code {"min": n, "max": m}}: the operator's replica bounds, kept (persisted) until set again. */
  private Route scale(String id) {
    return EdgeDirectives.body(AdminBodies.Scale.class, ApiError.Kind.INVALID_SCALE, Set.of("min", "max"),
        b -> onSuccess(services.scale(id, b.min(), b.max()), ServiceAdminRoutes::reply));
  }

  private Route known(String id, Supplier<Route> inner) {
    if (services.settings(id).isEmpty()) return refuse(ApiError.of(AdminRefusal.SERVICE_NOT_FOUND, "No service named '" + id + "'"));
    return inner.get();
  }

  private static Route reply(AdminReply reply) {
    if (reply instanceof AdminReply.Done d) return json(AdminJson.service(d.status()));
    AdminReply.Refused r = (AdminReply.Refused) reply;
    return refuse(ApiError.of(r.reason(), r.message()));
  }
}
