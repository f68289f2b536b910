package sluice.edge.http;

import java.time.Instant;
import java.time.Clock;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;
import static sluice.edge.http.EdgeDirectives.json;
import static sluice.edge.http.EdgeDirectives.only;
import static sluice.edge.http.EdgeDirectives.refuse;
import static sluice.edge.http.FutureRoutes.onComplete;
import static sluice.edge.http.FutureRoutes.onSuccess;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.server.Route;
import sluice.core.config.ServiceSettings;
import sluice.core.service.ServiceDirectory;
import sluice.core.service.ServiceStatus;
import sluice.core.user.KeyView;
import sluice.core.user.UserDirectory;
import sluice.core.user.UserReply;

/** {@code GET /v1/models} and {@code /v1/models/{id}}: the models this caller may use, with Sluice's live status. */
final class ModelRoutes {
  private final ServiceDirectory services;
  private final UserDirectory users;
  private final Clock clock;

  ModelRoutes(ServiceDirectory services, UserDirectory users, Clock clock) {
    this.services = services;
    this.users = users;
    this.clock = clock;
  }

  /** Which models a caller may see, or why its key may not be used at all (revoked or expired: 401, as at admission). */
  private record Access(Predicate<String> allowed, ApiError refused) {
    static Access to(Predicate<String> allowed) { return new Access(allowed, null); }
  }

  Route routes(Authenticator.Caller caller) {
    return concat(
        path("models", () -> only(HttpMethods.GET, () -> list(caller))),
        path(segment("models").slash(segment()), id -> only(HttpMethods.GET, () -> one(caller, id))));
  }

  private Route list(Authenticator.Caller caller) {
    return onSuccess(access(caller), access -> access.refused() != null ? refuse(access.refused()) : onSuccess(services.statuses(), statuses -> {
      Predicate<String> allowed = access.allowed();
      Map<String, ServiceStatus> byId = statuses.stream().collect(Collectors.toMap(ServiceStatus::service, s -> s));
      ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
      root.put("object", "list");
      ArrayNode data = root.putArray("data");
      services.ids().stream().filter(allowed).forEach(id -> data.add(model(services.settings(id).orElseThrow(), byId.get(id))));
      return json(root);
    }));
  }

  private Route one(Authenticator.Caller caller, String id) {
    Optional<ServiceSettings> s = services.settings(id);
    if (s.isEmpty()) return refuse(ApiError.modelNotFound(id));
    return onSuccess(access(caller), access -> {
      if (access.refused() != null) return refuse(access.refused());
      if (!access.allowed().test(id)) {
        return refuse(ApiError.of(ApiError.Kind.MODEL_NOT_ALLOWED, "This API key may not use the model '" + id + "'").withParam("model"));
      }
      return onComplete(services.statusNow(id), status -> json(model(s.get(), status.isSuccess() ? status.get() : null)));
    });
  }

  /**
   * An admin-made key may be limited to some models, and is checked by its user's actor (so a revocation holds at
   * once, on every node); config keys and JWT users see every model.
   */
  private CompletionStage<Access> access(Authenticator.Caller caller) {
    if (caller.keyId().isEmpty()) return CompletableFuture.completedFuture(Access.to(id -> true));
    String keyId = caller.keyId().get().value();
    return users.get(caller.userId()).thenApply(reply -> {
      if (!(reply instanceof UserReply.Done d)) return Access.to(id -> false);
      Optional<KeyView> key = d.user().keys().stream().filter(k -> k.id().equals(keyId)).findFirst();
      if (key.isEmpty()) return Access.to(id -> false);
      if (key.get().revokedAt() != null) return new Access(null, ApiError.of(ApiError.Kind.KEY_REVOKED, "This API key has been revoked"));
      Instant expires = key.get().expiresAt();
      if (expires != null && !expires.isAfter(clock.instant())) {
        return new Access(null, ApiError.of(ApiError.Kind.KEY_EXPIRED, "This API key expired at " + expires));
      }
      List<String> models = key.get().models();
      return Access.to(id -> models.isEmpty() || models.contains(id));
    });
  }

  /** OpenAI's model fields, plus Sluice's: status (ready, loading, offline), replicas, input and output modalities. */
  private static ObjectNode model(ServiceSettings s, ServiceStatus status) {
    ObjectNode m = OpenAiJson.MAPPER.createObjectNode();
    m.put("id", s.id());
    m.put("object", "model");
    m.put("created", status == null || status.createdAt() == null ? 0 : status.createdAt().getEpochSecond());
    m.put("owned_by", s.ownedBy());
    if (status != null) {
      m.put("status", status.availability());
      m.put("replicas", status.replicas().stream().filter(ServiceStatus.Replica::routable).count());
    }
    s.input().forEach(m.putArray("input")::add);
    s.output().forEach(m.putArray("output")::add);
    return m;
  }
}
