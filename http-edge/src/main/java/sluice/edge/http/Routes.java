package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequestEntity;
import static org.apache.pekko.http.javadsl.server.Directives.extractUnmatchedPath;
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
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
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
import sluice.core.user.Admission;
import sluice.core.user.Credential;
import sluice.core.user.KeyView;
import sluice.core.user.UserDirectory;
import sluice.core.user.UserReply;
import sluice.edge.EdgeSettings;
import sluice.edge.usage.StreamOptions;
import sluice.persistence.usage.UsageWriter;

/**
 * The public OpenAI API and the admin API. Routes only parse, authenticate, call core and render; the request's
 * journey to a model server is {@link Proxy}'s.
 */
public final class Routes {
  private static final org.slf4j.Logger LOG = org.slf4j.LoggerFactory.getLogger(Routes.class);
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  /** A pass-through path below /v1: plain segments only, so nothing can climb out of it. */
  private static final Pattern API_PATH = Pattern.compile("(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+");
  /** The endpoints whose streams take stream_options, and whose answers are completions (reserved at max_tokens). */
  private static final java.util.Set<String> COMPLETIONS = java.util.Set.of("/v1/chat/completions", "/v1/completions");
  private static final java.util.Set<String> KNOWN = java.util.Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings");
  // Built once: the route tree below is evaluated per request.
  private static final ExceptionHandler EXCEPTIONS = OpenAiErrors.exceptions();
  private static final RejectionHandler REJECTIONS = OpenAiErrors.rejections();

  private final EdgeSettings settings;
  private final Authenticator auth;
  private final UserDirectory users;
  private final ServiceDirectory services;
  private final Proxy proxy;
  private final ActorSystem<?> system;
  private final Tunnels tunnels;
  private final AdminApi adminApi;
  private final UsageWriter usage;
  private final Clock clock;

  public Routes(EdgeSettings settings, Authenticator auth, UserDirectory users, ServiceDirectory services, Proxy proxy,
                Tunnels tunnels, AdminApi adminApi, UsageWriter usage, Clock clock, ActorSystem<?> system) {
    this.settings = settings;
    this.auth = auth;
    this.users = users;
    this.tunnels = tunnels;
    this.services = services;
    this.proxy = proxy;
    this.adminApi = adminApi;
    this.usage = usage;
    this.clock = clock;
    this.system = system;
  }

  public Route all() {
    return withRequestId(requestId -> handleExceptions(EXCEPTIONS, () ->
        handleRejections(REJECTIONS, () -> concat(
            pathPrefix("v1", () -> authenticated(caller -> concat(
                path("models", () -> get(() -> models(caller))),
                path(segment("models").slash(segment()), id -> get(() -> model(caller, id))),
                post(() -> extractUnmatchedPath(rest -> apiCall("/v1" + rest, caller, requestId)))))),
            pathPrefix("admin", () -> admin(() -> concat(
                path("services", () -> get(this::adminServices)),
                path("tunnels", () -> get(this::adminTunnels)),
                path(segment("services").slash(segment()), id -> get(() -> adminService(id))),
                path(segment("services").slash(segment()).slash("scale"), id -> post(() -> adminScale(id))),
                path(segment("services").slash(segment()).slash("replicas").slash(segment()).slash("drain"),
                    (id, job) -> post(() -> adminDrain(id, job))),
                adminApi.routes())))))));
  }

  // ---------------------------------------------------------------- request id and auth

  /** Accepts a well-formed client request id or makes one; every response carries it. */
  private Route withRequestId(Function<String, Route> inner) {
    return optionalHeaderValueByName("x-request-id", given -> {
      String id = given.filter(v -> REQUEST_ID.matcher(v).matches()).orElseGet(() -> UUID.randomUUID().toString());
      return respondWithHeader(RawHeader.create("x-request-id", id), () -> inner.apply(id));
    });
  }

  private Route authenticated(Function<Authenticator.Caller, Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> onSuccess(auth.authenticate(header), result -> {
      if (result instanceof Authenticator.Denied d) return complete(d.response());
      return inner.apply(((Authenticator.Authenticated) result).caller());
    }));
  }

  private Route admin(Supplier<Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> {
      if (settings.adminKey().isEmpty()) {
        return complete(OpenAiErrors.response(StatusCodes.FORBIDDEN, OpenAiErrors.INVALID_REQUEST, "admin_disabled", null,
            "The admin API is disabled: set sluice.admin.key", List.of()));
      }
      Optional<String> token = Authenticator.bearer(header);
      if (token.isEmpty() || !ApiKeys.sameSecret(token.get(), settings.adminKey().get())) {
        return complete(OpenAiErrors.unauthorized("The admin API needs 'Authorization: Bearer <admin key>'"));
      }
      return inner.get();
    });
  }

  // ---------------------------------------------------------------- model calls

  /** Every POST below /v1: chat, completions, embeddings, and any other path the model's service allows. */
  private Route apiCall(String path, Authenticator.Caller caller, String requestId) {
    Instant startedAt = clock.instant();
    if (!API_PATH.matcher(path).matches() || path.contains("..")) {
      return complete(OpenAiErrors.response(StatusCodes.NOT_FOUND, OpenAiErrors.INVALID_REQUEST, "unknown_url", null,
          "Unknown request URL", List.of()));
    }
    Early early = (status, model) -> RequestLedger.refusedEarly(usage, clock, startedAt, requestId, caller.userId(),
        keyIdOf(caller), model, path, false, status);
    return withRequestTimeout(settings.completionTimeout(), () -> withRequestTimeoutResponse(req ->
        OpenAiErrors.response(StatusCodes.GATEWAY_TIMEOUT, OpenAiErrors.SERVER_ERROR, "timeout", null,
            "The request took longer than " + settings.completionTimeout().toSeconds() + " s", List.of()),
        () -> extractRequestEntity(entity -> {
          if (entity.getContentLengthOption().orElse(0L) > settings.maxBodyBytes()) {   // declared too large: refuse unread
            early.record(413, "");
            return complete(OpenAiErrors.tooLarge(settings.maxBodyBytes()));
          }
          return onComplete(entity.withSizeLimit(settings.maxBodyBytes()).toStrict(settings.completionTimeout().toMillis(), system),
              body -> {
                if (body.isFailure()) {
                  LOG.debug("request body unreadable: {}", body.failed().get().toString());
                  boolean tooLarge = isTooLarge(body.failed().get());
                  early.record(tooLarge ? 413 : 400, "");
                  return complete(tooLarge ? OpenAiErrors.tooLarge(settings.maxBodyBytes())
                      : OpenAiErrors.badRequest("The request body could not be read", null, null));
                }
                return forward(path, caller, body.get().getData(), requestId, startedAt, early);
              });
        })));
  }

  /** Records a request that ended before admission (bad body, unknown model). */
  private interface Early {
    void record(int status, String model);
  }

  private Route forward(String path, Authenticator.Caller caller, ByteString body, String requestId, Instant startedAt,
                        Early early) {
    JsonNode parsed;
    try {
      parsed = StreamOptions.read(body);      // numbers kept exactly, since stream options may be added
    } catch (Exception e) {
      early.record(400, "");
      return complete(OpenAiErrors.badRequest("We could not parse the JSON body of your request", null, "invalid_json"));
    }
    if (parsed == null || !parsed.isObject()) {
      early.record(400, "");
      return complete(OpenAiErrors.badRequest("The request body must be a JSON object", null, "invalid_json"));
    }
    ObjectNode json = (ObjectNode) parsed;
    JsonNode model = json.get("model");
    if (model == null || !model.isTextual() || model.asText().isBlank()) {
      if (!KNOWN.contains(path)) {
        // Any other path is passed to the model's server, so without a model it leads nowhere.
        early.record(404, "");
        return complete(OpenAiErrors.response(StatusCodes.NOT_FOUND, OpenAiErrors.INVALID_REQUEST, "unknown_url", null,
            "Unknown request URL", List.of()));
      }
      early.record(400, "");
      return complete(OpenAiErrors.badRequest("You must provide a model parameter", "model", "missing_model"));
    }
    String modelId = model.asText();
    Optional<ServiceSettings> service = services.settings(modelId);
    if (service.isEmpty()) {
      early.record(404, modelId);
      return complete(OpenAiErrors.modelNotFound(modelId));
    }
    JsonNode stream = json.get("stream");
    if (stream != null && !stream.isBoolean() && !stream.isNull()) {
      early.record(400, modelId);
      return complete(OpenAiErrors.badRequest("'stream' must be a boolean", "stream", "invalid_type"));
    }
    boolean streaming = stream != null && stream.asBoolean();
    Optional<HttpResponse> badOptions = streamOptionsError(json);
    if (badOptions.isPresent()) {
      early.record(400, modelId);
      return complete(badOptions.get());
    }
    // Streams of the completion endpoints always ask the model server for usage; the meter removes what the client
    // did not ask for. Other streams pass as they are (the client's own options decide what comes back).
    ByteString upstreamBody = body;
    boolean clientIncludeUsage = true;
    boolean clientContinuous = true;
    if (streaming && COMPLETIONS.contains(path)) {
      StreamOptions.Prepared prepared;
      try {
        prepared = StreamOptions.prepare(json, service.get().usagePerChunk());
      } catch (StreamOptions.InvalidStreamOptions e) {
        early.record(400, modelId);
        return complete(OpenAiErrors.badRequest(e.getMessage(), e.param(), "invalid_type"));
      }
      upstreamBody = prepared.body();
      clientIncludeUsage = prepared.clientIncludeUsage();
      clientContinuous = prepared.clientContinuousUsage();
    }
    long reserve = reservation(path, json, body.size());
    ByteString forwarded = upstreamBody;
    boolean includeUsage = clientIncludeUsage;
    boolean continuous = clientContinuous;
    // The admission's own id, not the client's x-request-id: a client could send the same id on parallel requests,
    // and the user actor answers a repeated admission id without counting it again.
    String admissionId = UUID.randomUUID().toString();
    return onSuccess(users.admit(caller.userId(), admissionId, caller.credential(), modelId, reserve), admission -> {
      Instant now = clock.instant();
      if (admission instanceof Admission.Refused r) {
        RequestLedger.refusedEarly(usage, clock, startedAt, requestId, caller.userId(),
            r.keyId() != null ? r.keyId() : keyIdOf(caller), modelId, path, streaming, r.status());
        return complete(refusal(r, now));
      }
      Admission.Admitted a = (Admission.Admitted) admission;
      RequestLedger ledger = RequestLedger.admitted(users, usage, clock, startedAt, requestId, admissionId, a.userId(),
          a.keyId(), modelId, path, streaming);
      Proxy.Call call = new Proxy.Call(service.get(), caller.userId(), "POST", path, forwarded, requestId, streaming,
          includeUsage, continuous, RateHeaders.of(a.rate(), now), ledger);
      return onSuccess(proxy.handle(call), response -> complete(response));
    });
  }

  /** stream_options, when given, must be an object whose usage flags are booleans (the meter relies on them). */
  private static Optional<HttpResponse> streamOptionsError(JsonNode json) {
    JsonNode options = json.get("stream_options");
    if (options == null || options.isNull()) return Optional.empty();
    if (!options.isObject()) {
      return Optional.of(OpenAiErrors.badRequest("'stream_options' must be an object", "stream_options", "invalid_type"));
    }
    for (String flag : List.of("include_usage", "continuous_usage_stats")) {
      JsonNode v = options.get(flag);
      if (v != null && !v.isNull() && !v.isBoolean()) {
        return Optional.of(OpenAiErrors.badRequest("'stream_options." + flag + "' must be a boolean",
            "stream_options." + flag, "invalid_type"));
      }
    }
    return Optional.empty();
  }

  /**
   * Tokens reserved at admission, settled from the real usage afterwards: the completion cap (max_completion_tokens or
   * max_tokens, else the configured default, for the completion endpoints) plus a prompt estimate of a token per four
   * bytes of body, which overestimates JSON and so errs on the side of the limit.
   */
  private long reservation(String path, JsonNode json, int bodyBytes) {
    long cap = 0;
    for (String field : List.of("max_completion_tokens", "max_tokens")) {
      JsonNode v = json.get(field);
      if (v != null && v.canConvertToLong() && v.isIntegralNumber() && v.asLong() > 0) {
        cap = v.asLong();
        break;
      }
    }
    if (cap == 0 && COMPLETIONS.contains(path)) cap = users.settings().defaultMaxTokens();
    return cap + (bodyBytes + 3) / 4;
  }

  private static HttpResponse refusal(Admission.Refused r, Instant now) {
    List<HttpHeader> headers = new ArrayList<>(RateHeaders.of(r.rate(), now));
    if (r.retryAfterSeconds() >= 0) headers.add(RawHeader.create("Retry-After", Long.toString(r.retryAfterSeconds())));
    if (r.status() == 401) headers.add(RawHeader.create("WWW-Authenticate", "Bearer"));
    return OpenAiErrors.response(StatusCodes.get(r.status()), r.type(), r.code(), r.status() == 403 ? "model" : null,
        r.message(), headers);
  }

  private static String keyIdOf(Authenticator.Caller caller) {
    if (caller.keyId().isPresent()) return caller.keyId().get();
    return caller.credential() instanceof Credential.Trusted t ? t.keyId() : "";
  }

  private static boolean isTooLarge(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof EntityStreamSizeException) return true;
    return false;
  }

  // ---------------------------------------------------------------- models

  /** The models this caller may use: all of them, or those its key allows. */
  private Route models(Authenticator.Caller caller) {
    return onSuccess(allowedModels(caller), allowed -> onSuccess(services.statuses(), statuses -> {
      Map<String, ServiceStatus> byId = statuses.stream().collect(Collectors.toMap(ServiceStatus::service, s -> s));
      ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
      root.put("object", "list");
      ArrayNode data = root.putArray("data");
      services.ids().stream().filter(allowed).forEach(id -> data.add(modelJson(services.settings(id).orElseThrow(), byId.get(id))));
      return json(root);
    }));
  }

  private Route model(Authenticator.Caller caller, String id) {
    Optional<ServiceSettings> s = services.settings(id);
    if (s.isEmpty()) return complete(OpenAiErrors.modelNotFound(id));
    return onSuccess(allowedModels(caller), allowed -> {
      if (!allowed.test(id)) {
        return complete(OpenAiErrors.response(StatusCodes.FORBIDDEN, OpenAiErrors.INVALID_REQUEST, "model_not_allowed", "model",
            "This API key may not use the model '" + id + "'", List.of()));
      }
      return onComplete(services.status(id), status -> json(modelJson(s.get(), status.isSuccess() ? status.get() : null)));
    });
  }

  /** An admin-made key may be limited to some models; config keys and JWT users see every model. */
  private CompletionStage<java.util.function.Predicate<String>> allowedModels(Authenticator.Caller caller) {
    if (caller.keyId().isEmpty()) return CompletableFuture.completedFuture(id -> true);
    String keyId = caller.keyId().get();
    return users.get(caller.userId()).thenApply(reply -> {
      if (!(reply instanceof UserReply.Done d)) return id -> false;
      Optional<List<String>> models = d.user().keys().stream().filter(k -> k.id().equals(keyId)).findFirst()
          .map(KeyView::models);
      if (models.isEmpty()) return id -> false;
      return id -> models.get().isEmpty() || models.get().contains(id);
    });
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
