package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequestEntity;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.handleExceptions;
import static org.apache.pekko.http.javadsl.server.Directives.handleRejections;
import static org.apache.pekko.http.javadsl.server.Directives.onComplete;
import static org.apache.pekko.http.javadsl.server.Directives.onSuccess;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.Directives.respondWithHeader;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeout;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeoutResponse;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.util.ByteString;
import sluice.core.config.ServiceSettings;
import sluice.core.service.AdminReply;
import sluice.core.service.ServiceDirectory;
import sluice.core.service.ServiceStatus;
import sluice.core.tunnel.Tunnels;
import sluice.edge.EdgeSettings;

/**
 * The public OpenAI API and the admin API. Routes only parse, authenticate, call core and render; the request's
 * journey to a model server is {@link Proxy}'s.
 */
public final class Routes {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Routes.class);
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  // Built once: the route tree below is evaluated per request.
  private static final ExceptionHandler EXCEPTIONS = OpenAiErrors.exceptions();
  private static final RejectionHandler REJECTIONS = OpenAiErrors.rejections();

  private final EdgeSettings settings;
  private final ApiKeys keys;
  private final ServiceDirectory services;
  private final Proxy proxy;
  private final ActorSystem<?> system;
  private final Tunnels tunnels;

  public Routes(EdgeSettings settings, ApiKeys keys, ServiceDirectory services, Proxy proxy, Tunnels tunnels,
                ActorSystem<?> system) {
    this.settings = settings;
    this.tunnels = tunnels;
    this.keys = keys;
    this.services = services;
    this.proxy = proxy;
    this.system = system;
  }

  public Route all() {
    return withRequestId(requestId -> handleExceptions(EXCEPTIONS, () ->
        handleRejections(REJECTIONS, () -> concat(
            pathPrefix("v1", () -> concat(
                path("models", () -> get(() -> authenticated(user -> models()))),
                path(segment("models").slash(segment()), id -> get(() -> authenticated(user -> model(id)))),
                path(segment("chat").slash("completions"), () -> post(() -> authenticated(user ->
                    completion("/v1/chat/completions", user, requestId)))),
                path("completions", () -> post(() -> authenticated(user -> completion("/v1/completions", user, requestId)))))),
            pathPrefix("admin", () -> admin(() -> concat(
                path("services", () -> get(this::adminServices)),
                path("tunnels", () -> get(this::adminTunnels)),
                path(segment("services").slash(segment()), id -> get(() -> adminService(id))),
                path(segment("services").slash(segment()).slash("scale"), id -> post(() -> adminScale(id))),
                path(segment("services").slash(segment()).slash("replicas").slash(segment()).slash("drain"),
                    (id, job) -> post(() -> adminDrain(id, job))))))))));
  }

  // ---------------------------------------------------------------- request id and auth

  /** Accepts a well-formed client request id or makes one; every response carries it. */
  private Route withRequestId(Function<String, Route> inner) {
    return optionalHeaderValueByName("x-request-id", given -> {
      String id = given.filter(v -> REQUEST_ID.matcher(v).matches()).orElseGet(() -> UUID.randomUUID().toString());
      return respondWithHeader(RawHeader.create("x-request-id", id), () -> inner.apply(id));
    });
  }

  /** Passes the key's name on: it is the user the service's queue is fair between. */
  private Route authenticated(Function<String, Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> {
      Optional<String> token = bearer(header);
      if (header.isEmpty()) return complete(OpenAiErrors.unauthorized("You didn't provide an API key: send 'Authorization: Bearer <key>'"));
      if (token.isEmpty()) return complete(OpenAiErrors.unauthorized("The Authorization header must be 'Bearer <key>'"));
      Optional<String> user = keys.lookup(token.get());
      if (user.isEmpty()) return complete(OpenAiErrors.unauthorized("Incorrect API key provided"));
      return inner.apply(user.get());
    });
  }

  private Route admin(Supplier<Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> {
      if (settings.adminKey().isEmpty()) {
        return complete(OpenAiErrors.response(StatusCodes.FORBIDDEN, OpenAiErrors.INVALID_REQUEST, "admin_disabled", null,
            "The admin API is disabled: set sluice.admin.key", List.of()));
      }
      Optional<String> token = bearer(header);
      if (token.isEmpty() || !ApiKeys.sameSecret(token.get(), settings.adminKey().get())) {
        return complete(OpenAiErrors.unauthorized("The admin API needs 'Authorization: Bearer <admin key>'"));
      }
      return inner.get();
    });
  }

  private static Optional<String> bearer(Optional<String> header) {
    return header.filter(h -> h.regionMatches(true, 0, "Bearer ", 0, 7)).map(h -> h.substring(7).trim()).filter(t -> !t.isEmpty());
  }

  // ---------------------------------------------------------------- completions

  private Route completion(String path, String user, String requestId) {
    return withRequestTimeout(settings.completionTimeout(), () -> withRequestTimeoutResponse(req ->
        OpenAiErrors.response(StatusCodes.GATEWAY_TIMEOUT, OpenAiErrors.SERVER_ERROR, "timeout", null,
            "The request took longer than " + settings.completionTimeout().toSeconds() + " s", List.of()),
        () -> extractRequestEntity(entity -> entity.getContentLengthOption().orElse(0L) > settings.maxBodyBytes()
            ? complete(OpenAiErrors.tooLarge(settings.maxBodyBytes()))        // declared too large: refuse unread
            : onComplete(entity.withSizeLimit(settings.maxBodyBytes()).toStrict(settings.completionTimeout().toMillis(), system),
            body -> {
              if (body.isFailure()) {
                LOG.debug("request body unreadable: {}", body.failed().get().toString());
                return complete(isTooLarge(body.failed().get()) ? OpenAiErrors.tooLarge(settings.maxBodyBytes())
                    : OpenAiErrors.badRequest("The request body could not be read", null, null));
              }
              return forward(path, user, body.get().getData(), requestId);
            }))));
  }

  private Route forward(String path, String user, ByteString body, String requestId) {
    JsonNode json;
    try {
      json = OpenAiJson.MAPPER.readTree(body.toArrayUnsafe());
    } catch (Exception e) {
      return complete(OpenAiErrors.badRequest("We could not parse the JSON body of your request", null, "invalid_json"));
    }
    if (json == null || !json.isObject()) {
      return complete(OpenAiErrors.badRequest("The request body must be a JSON object", null, "invalid_json"));
    }
    JsonNode model = json.get("model");
    if (model == null || !model.isTextual() || model.asText().isBlank()) {
      return complete(OpenAiErrors.badRequest("You must provide a model parameter", "model", "missing_model"));
    }
    Optional<ServiceSettings> service = services.settings(model.asText());
    if (service.isEmpty()) return complete(OpenAiErrors.modelNotFound(model.asText()));
    JsonNode stream = json.get("stream");
    if (stream != null && !stream.isBoolean() && !stream.isNull()) {
      return complete(OpenAiErrors.badRequest("'stream' must be a boolean", "stream", "invalid_type"));
    }
    boolean streaming = stream != null && stream.asBoolean();
    return onSuccess(proxy.handle(new Proxy.Call(service.get(), user, "POST", path, body, requestId, streaming)), response -> complete(response));
  }

  private static boolean isTooLarge(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof EntityStreamSizeException) return true;
    return false;
  }

  // ---------------------------------------------------------------- models

  private Route models() {
    return onSuccess(services.statuses(), statuses -> {
      Map<String, ServiceStatus> byId = statuses.stream().collect(Collectors.toMap(ServiceStatus::service, s -> s));
      ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
      root.put("object", "list");
      ArrayNode data = root.putArray("data");
      services.ids().forEach(id -> data.add(modelJson(services.settings(id).orElseThrow(), byId.get(id))));
      return json(root);
    });
  }

  private Route model(String id) {
    Optional<ServiceSettings> s = services.settings(id);
    if (s.isEmpty()) return complete(OpenAiErrors.modelNotFound(id));
    return onComplete(services.status(id), status -> json(modelJson(s.get(), status.isSuccess() ? status.get() : null)));
  }

  /** OpenAI's model fields, plus Sluice's: status (ready, loading, offline), replicas, input and output modalities. */
  private static ObjectNode modelJson(ServiceSettings s, ServiceStatus status) {
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

  // ---------------------------------------------------------------- admin

  private Route adminServices() {
    return onSuccess(services.statuses(), statuses -> {
      ArrayNode list = OpenAiJson.MAPPER.createArrayNode();
      statuses.forEach(s -> list.add(statusJson(s)));
      ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
      root.set("services", list);
      return json(root);
    });
  }

  /** This gateway node's connections to login nodes (or local agents): state, reason, channels, streams, round trip. */
  private Route adminTunnels() {
    return onSuccess(tunnels.statuses(java.time.Duration.ofSeconds(3)), statuses -> {
      ArrayNode list = OpenAiJson.MAPPER.createArrayNode();
      statuses.forEach(t -> {
        ObjectNode n = OpenAiJson.MAPPER.valueToTree(t);
        n.put("state", t.state().name().toLowerCase(java.util.Locale.ROOT));
        list.add(n);
      });
      ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
      root.set("tunnels", list);
      return json(root);
    });
  }

  private Route adminService(String id) {
    if (services.settings(id).isEmpty()) return complete(serviceNotFound(id));
    return onSuccess(services.status(id), s -> json(statusJson(s)));
  }

  /** {@code {"min": n, "max": m}}: the operator's replica bounds, kept (persisted) until set again. */
  private Route adminScale(String id) {
    if (services.settings(id).isEmpty()) return complete(serviceNotFound(id));
    return entity(org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller.entityToString(), body -> {
      JsonNode json;
      try {
        json = OpenAiJson.MAPPER.readTree(body);
      } catch (Exception e) {
        return complete(OpenAiErrors.badRequest("We could not parse the JSON body of your request", null, "invalid_json"));
      }
      if (json == null || !json.isObject()) return complete(OpenAiErrors.badRequest("The body must be {\"min\": n, \"max\": m}", null, "invalid_json"));
      for (String field : List.of("min", "max")) {
        JsonNode v = json.get(field);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber()) {
          return complete(OpenAiErrors.badRequest("'" + field + "' must be a whole number", field, "invalid_scale"));
        }
      }
      return onSuccess(services.scale(id, json.get("min").asInt(), json.get("max").asInt()), this::adminReply);
    });
  }

  private Route adminDrain(String id, String job) {
    if (services.settings(id).isEmpty()) return complete(serviceNotFound(id));
    return onSuccess(services.drain(id, job), this::adminReply);
  }

  private Route adminReply(AdminReply reply) {
    if (reply instanceof AdminReply.Done d) return json(statusJson(d.status()));
    AdminReply.Refused r = (AdminReply.Refused) reply;
    var status = r.code().equals("replica_not_found") ? StatusCodes.NOT_FOUND : StatusCodes.BAD_REQUEST;
    return complete(OpenAiErrors.response(status, OpenAiErrors.INVALID_REQUEST, r.code(), null, r.message(), List.of()));
  }

  private static HttpResponse serviceNotFound(String id) {
    return OpenAiErrors.response(StatusCodes.NOT_FOUND, OpenAiErrors.INVALID_REQUEST, "service_not_found", null,
        "No service named '" + id + "'", List.of());
  }

  private static ObjectNode statusJson(ServiceStatus s) {
    ObjectNode n = OpenAiJson.MAPPER.valueToTree(s);
    n.put("availability", s.availability());
    n.put("in_flight", s.inFlight());
    return n;
  }

  private static Route json(JsonNode node) {
    return complete(HttpResponse.create().withEntity(ContentTypes.APPLICATION_JSON, ByteString.fromString(node.toString())));
  }
}
