package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequestEntity;
import static org.apache.pekko.http.javadsl.server.Directives.respondWithHeader;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeout;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeoutResponse;
import static sluice.edge.http.EdgeDirectives.refuse;
import static sluice.edge.http.FutureRoutes.onComplete;
import static sluice.edge.http.FutureRoutes.onSuccess;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigInteger;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.config.ServiceSettings;
import sluice.core.ids.ServiceId;
import sluice.core.service.ServiceDirectory;
import sluice.core.user.Admission;
import sluice.edge.EdgeSettings;
import sluice.edge.usage.StreamOptions;

/**
 * Every POST below {@code /v1}: chat, completions, embeddings, and any other path the model's service allows (the
 * agent decides). Reads and checks the body, admits the request with the caller's user actor, and hands it to the
 * {@link Proxy}; the {@link RequestLedger} records how it ended, refusals included.
 */
final class ApiRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(ApiRoutes.class);
  /** A pass-through path below /v1: plain segments only, so nothing can climb out of it. */
  private static final Pattern API_PATH = Pattern.compile("(/[A-Za-z0-9_-][A-Za-z0-9._-]*)+");
  /** How far beyond the body limit a declared body is still read (and dropped) so that its connection can be kept. */
  private static final long SWALLOW_BYTES = 2L << 20;
  /** The endpoints whose streams take stream_options, and whose answers are completions (reserved at max_tokens). */
  private static final Set<String> COMPLETIONS = Set.of("/v1/chat/completions", "/v1/completions");
  private static final Set<String> KNOWN = Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings");
  /** The completion caps a request may give, in the order the reservation reads them. */
  private static final List<String> CAPS = List.of("max_completion_tokens", "max_tokens");
  /** The largest completion cap (OpenAI's own bound, 2^31 - 1): keeps the reservation far from overflowing. */
  static final long MAX_TOKENS = Integer.MAX_VALUE;

  private final EdgeSettings settings;
  private final ServiceDirectory services;
  private final Proxy proxy;
  private final RequestLedger.Accounts accounts;
  private final long defaultMaxTokens;
  private final ActorSystem<?> system;

  ApiRoutes(EdgeSettings settings, ServiceDirectory services, Proxy proxy, RequestLedger.Accounts accounts, ActorSystem<?> system) {
    this.settings = settings;
    this.services = services;
    this.proxy = proxy;
    this.accounts = accounts;
    this.defaultMaxTokens = accounts.users().settings().defaultMaxTokens();
    this.system = system;
  }

  private Clock clock() { return accounts.clock(); }

  /** A POST to {@code path} (below /v1) by {@code caller}. */
  Route call(String path, Authenticator.Caller caller, String requestId) {
    RequestContext request = RequestContext.start(requestId, caller, path, clock().instant());
    if (!API_PATH.matcher(path).matches() || path.contains("..")) return refuse(ApiError.of(ApiError.Kind.UNKNOWN_URL, "Unknown request URL"));
    return withRequestTimeout(settings.completionTimeout(), () -> withRequestTimeoutResponse(req ->
        OpenAiErrors.response(ApiError.of(ApiError.Kind.TIMEOUT, "The request took longer than "
            + settings.completionTimeout().toSeconds() + " s")),
        () -> extractRequestEntity(entity -> {
          long declared = entity.getContentLengthOption().orElse(0L);
          if (declared > settings.maxBodyBytes()) {
            // Refusing unread closes the connection under a client that may still be sending, and it can lose the answer
            // (or reuse the dead connection). A body a little too large is read and dropped first, as Tomcat swallows up
            // to 2 MiB; a far larger one is refused at once with Connection: close.
            if (declared - settings.maxBodyBytes() <= SWALLOW_BYTES) {
              return onComplete(entity.discardBytes(system).completionStage(), drained -> drained.isSuccess()
                  ? refused(request, tooLarge()) : closing(refused(request, tooLarge())));
            }
            return closing(refused(request, tooLarge()));
          }
          return onComplete(entity.withSizeLimit(settings.maxBodyBytes()).toStrict(settings.completionTimeout().toMillis(), system),
              body -> {
                if (body.isFailure()) {
                  LOG.debug("request body unreadable: {}", body.failed().get().toString());
                  // The rest of the body is unread, so the connection cannot carry another request.
                  return closing(refused(request, isTooLarge(body.failed().get()) ? tooLarge()
                      : given(body.failed().get()).orElse(ApiError.of(ApiError.Kind.UNREADABLE_BODY, "The request body could not be read"))));
                }
                return forward(request, body.get().getData());
              });
        })));
  }

  private Route forward(RequestContext request, ByteString body) {
    JsonNode parsed;
    try {
      parsed = StreamOptions.read(body);      // numbers kept exactly, since stream options may be added
    } catch (Exception e) {
      return refused(request, BadJson.of(e));
    }
    if (parsed == null || !parsed.isObject()) {
      return refused(request, ApiError.of(ApiError.Kind.INVALID_JSON, "The request body must be a JSON object"));
    }
    ObjectNode json = (ObjectNode) parsed;
    JsonNode model = json.get("model");
    if (model == null || !model.isTextual() || model.asText().isBlank()) {
      // Any other path is passed to the model's server, so without a model it leads nowhere.
      return refused(request, KNOWN.contains(request.endpoint())
          ? ApiError.of(ApiError.Kind.MISSING_MODEL, "You must provide a model parameter").withParam("model")
          : ApiError.of(ApiError.Kind.UNKNOWN_URL, "Unknown request URL"));
    }
    String modelId = model.asText();
    Optional<ServiceSettings> service = services.settings(modelId);
    RequestContext named = request.about(modelId, false);
    if (service.isEmpty()) return refused(named, ApiError.modelNotFound(modelId));
    JsonNode stream = json.get("stream");
    if (stream != null && !stream.isBoolean() && !stream.isNull()) {
      return refused(named, invalidType("'stream' must be a boolean", "stream"));
    }
    Optional<ApiError> badOptions = streamOptionsError(json);
    if (badOptions.isPresent()) return refused(named, badOptions.get());
    Optional<ApiError> badCap = capError(json);
    if (badCap.isPresent()) return refused(named, badCap.get());
    RequestContext ctx = request.about(modelId, stream != null && stream.asBoolean());
    // Streams of the completion endpoints always ask the model server for usage; the meter removes what the client
    // did not ask for. Other streams pass as they are (the client's own options decide what comes back).
    StreamOptions.Prepared upstream = new StreamOptions.Prepared(body, true, true);
    if (ctx.stream() && COMPLETIONS.contains(ctx.endpoint())) {
      try {
        upstream = StreamOptions.prepare(json, service.get().usagePerChunk());
      } catch (StreamOptions.InvalidStreamOptions e) {
        return refused(named, invalidType(e.getMessage(), e.param()));
      }
    }
    return admit(ctx, service.get(), upstream, reservation(ctx.endpoint(), json, body.size()));
  }

  /**
   * One ask to the caller's user actor; a refusal ends the request here. The admission has its own id, not the
   * client's x-request-id: a client could send the same id on parallel requests, and the user actor answers a repeated
   * admission id without counting it again.
   */
  private Route admit(RequestContext ctx, ServiceSettings service, StreamOptions.Prepared upstream, long reserve) {
    String admissionId = RequestIds.next();
    var caller = ctx.caller();
    return onSuccess(accounts.users().admit(caller.userId(), admissionId, caller.credential(), ServiceId.of(service.id()), reserve),
        admission -> {
          var rate = RateHeaders.of(admission instanceof Admission.Admitted a ? a.rate() : ((Admission.Refused) admission).rate(),
              clock().instant());
          if (admission instanceof Admission.Refused r) return refused(ctx, ApiError.of(r).withHeaders(rate));
          RequestLedger ledger = RequestLedger.admitted(accounts, ctx, admissionId);
          return onSuccess(proxy.handle(new Proxy.Call(ctx, service, upstream, rate, ledger)), response -> complete(response));
        });
  }

  /** Records a request that ends before it reaches a model server, and answers with the error. */
  /** Tells the client that this connection ends with the response, so that it does not send its next request on it. */
  private static Route closing(Route route) {
    return respondWithHeader(Connection.create("close"), () -> route);
  }

  private Route refused(RequestContext request, ApiError error) {
    RequestLedger.refusedEarly(accounts, request, error);
    return refuse(error);
  }

  /** stream_options, when given, must be an object whose usage flags are booleans (the meter relies on them). */
  private static Optional<ApiError> streamOptionsError(JsonNode json) {
    JsonNode options = json.get("stream_options");
    if (options == null || options.isNull()) return Optional.empty();
    if (!options.isObject()) return Optional.of(invalidType("'stream_options' must be an object", "stream_options"));
    for (String flag : List.of("include_usage", "continuous_usage_stats")) {
      JsonNode v = options.get(flag);
      if (v != null && !v.isNull() && !v.isBoolean()) {
        return Optional.of(invalidType("'stream_options." + flag + "' must be a boolean", "stream_options." + flag));
      }
    }
    return Optional.empty();
  }

  /** A completion cap above {@link #MAX_TOKENS}: refused, not reserved (the value is not echoed; it may be long). */
  private static Optional<ApiError> capError(JsonNode json) {
    for (String field : CAPS) {
      JsonNode v = json.get(field);
      if (v != null && v.isIntegralNumber() && v.bigIntegerValue().compareTo(BigInteger.valueOf(MAX_TOKENS)) > 0) {
        return Optional.of(ApiError.of(ApiError.Kind.INTEGER_ABOVE_MAX_VALUE, "Invalid '" + field
            + "': integer above maximum value. Expected a value <= " + MAX_TOKENS).withParam(field));
      }
    }
    return Optional.empty();
  }

  /**
   * Tokens reserved at admission, settled from the real usage afterwards: the completion cap (max_completion_tokens or
   * max_tokens, else the configured default, for the completion endpoints) plus a prompt estimate of a token per four
   * bytes of body, which overestimates JSON and so errs on the side of the limit.
   */
  private long reservation(String endpoint, JsonNode json, int bodyBytes) {
    long cap = 0;
    for (String field : CAPS) {
      JsonNode v = json.get(field);
      if (v != null && v.canConvertToLong() && v.isIntegralNumber() && v.asLong() > 0) {
        cap = v.asLong();
        break;
      }
    }
    if (cap == 0 && COMPLETIONS.contains(endpoint)) cap = defaultMaxTokens;
    return cap + (bodyBytes + 3) / 4;
  }

  private static ApiError invalidType(String message, String param) {
    return ApiError.of(ApiError.Kind.INVALID_TYPE, message).withParam(param);
  }

  private ApiError tooLarge() {
    return ApiError.of(ApiError.Kind.REQUEST_TOO_LARGE, "The request body exceeds the limit of " + settings.maxBodyBytes() + " bytes");
  }

  /** The error a body stream was failed with on purpose (the connection guard's 408), so the record says it too. */
  private static Optional<ApiError> given(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof ApiException e) return Optional.of(e.error());
    return Optional.empty();
  }

  private static boolean isTooLarge(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause()) if (c instanceof EntityStreamSizeException) return true;
    return false;
  }
}
