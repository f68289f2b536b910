package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.extractMethod;
import static org.apache.pekko.http.javadsl.server.Directives.extractRequest;
import static org.apache.pekko.http.javadsl.server.Directives.handleExceptions;
import static org.apache.pekko.http.javadsl.server.Directives.handleRejections;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.respondWithHeader;
import static org.apache.pekko.http.javadsl.server.Directives.withRequestTimeoutResponse;
import static sluice.edge.http.FutureRoutes.onSuccess;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Supplier;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpMethod;
import org.apache.pekko.http.javadsl.model.HttpMethods;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Allow;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.model.headers.TimeoutAccess;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MalformedRequestContentRejection;
import org.apache.pekko.http.javadsl.server.MethodRejection;
import org.apache.pekko.http.javadsl.server.Rejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.http.scaladsl.model.EntityStreamSizeException;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.persistence.StorageHealth;

/**
 * The directives every route class shares: the request id, error handling, who the caller is (an API key, a JWT or the
 * admin key), admin request bodies, and rendering. Route classes only parse, call core and render.
 */
final class EdgeDirectives {
  private static final Logger LOG = LoggerFactory.getLogger(EdgeDirectives.class);
  private static final Pattern REQUEST_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");
  private static final RejectionHandler REJECTIONS = RejectionHandler.newBuilder()
      .handleAll(MethodRejection.class, rejections ->
          refuse(methodNotAllowed(rejections.stream().map(MethodRejection::supported).toArray(HttpMethod[]::new))))
      .handleNotFound(refuse(ApiError.of(ApiError.Kind.UNKNOWN_URL, "Unknown request URL")))
      // An admin body its unmarshaller could not read: above pekko's max-content-length, or broken chunks.
      .handle(MalformedRequestContentRejection.class, r -> refuse(r.getCause() instanceof EntityStreamSizeException
          ? ApiError.of(ApiError.Kind.REQUEST_TOO_LARGE, "The request body exceeds the server's limit")
          : ApiError.of(ApiError.Kind.UNREADABLE_BODY, "The request body could not be read")))
      .handle(Rejection.class, r -> {
        // The class name only: a rejection's text can quote a header's value. Nor is it the client's business.
        LOG.debug("request rejected: {}", r.getClass().getSimpleName());
        return refuse(ApiError.of(ApiError.Kind.BAD_REQUEST, "The request could not be processed"));
      })
      .build();

  private static final ApiError TIMED_OUT = ApiError.of(ApiError.Kind.TIMEOUT, "The gateway did not answer in time");

  private final Authenticator auth;
  private final Optional<String> adminKey;
  private final StorageHealth storage;
  private final Drain drain;
  // Built once: route trees are evaluated per request.
  private final ExceptionHandler exceptions;

  EdgeDirectives(Authenticator auth, Optional<String> adminKey, StorageHealth storage, Drain drain) {
    this.auth = auth;
    this.adminKey = adminKey;
    this.storage = storage;
    this.drain = drain;
    this.exceptions = ExceptionHandler.newBuilder()
        .match(ApiException.class, e -> refuse(e.error()))
        .matchAny(e -> {
          // An actor whose journal calls failed does not answer until it has restarted: while the probe says writes
          // fail, or came back only moments ago, that is the reason to give.
          if (storage.recovering()) return refuse(ApiError.storageUnavailable(storage));
          ApiError error = ApiError.fromRouteFailure(e);
          if (error.kind() == ApiError.Kind.INTERNAL) LOG.error("unhandled error in a route", e);
          else LOG.warn("a route's ask was not answered in time: {}", e.toString());
          return refuse(error);
        })
        .build();
  }

  /** Keeps a well-formed client {@code x-request-id} or makes one; every response carries it. */
  Route withRequestId(Function<String, Route> inner) {
    return optionalHeaderValueByName("x-request-id", given -> {
      String id = requestId(given);
      return respondWithHeader(RawHeader.create("x-request-id", id), () -> inner.apply(id));
    });
  }

  /** The client's x-request-id when well-formed, else a new one. */
  static String requestId(Optional<String> given) {
    return given.filter(v -> REQUEST_ID.matcher(v).matches()).orElseGet(RequestIds::next);
  }

  /**
   * Pekko's answer when a request outlives pekko.http.server.request-timeout, as OpenAI JSON (a route may set its own).
   * Only where the server set a timeout: otherwise the directive would warn on every request.
   */
  static Route jsonTimeouts(Supplier<Route> inner) {
    return extractRequest(request -> request.getHeader(TimeoutAccess.class).isEmpty() ? inner.get()
        : withRequestTimeoutResponse(r -> OpenAiErrors.response(TIMED_OUT), inner));
  }

  /** Every rejection and exception below becomes an OpenAI error. */
  Route handleErrors(Supplier<Route> inner) {
    return handleExceptions(exceptions, () -> handleRejections(REJECTIONS, inner));
  }

  /**
   * The caller of the OpenAI API, or 401 (503 when a JWT issuer's keys cannot be fetched), which {@code denied} hears
   * of first.
   */
  Route authenticated(Consumer<ApiError> denied, Function<Authenticator.Caller, Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> onSuccess(auth.authenticate(header), result -> {
      if (result instanceof Authenticator.Denied d) {
        denied.accept(d.error());
        return refuse(d.error());
      }
      return inner.apply(((Authenticator.Authenticated) result).caller());
    }));
  }

  /** Only with the admin key (compared in constant time); 403 when the admin API is disabled. */
  Route admin(Supplier<Route> inner) {
    return optionalHeaderValueByName("Authorization", header -> {
      if (adminKey.isEmpty()) return refuse(ApiError.of(ApiError.Kind.ADMIN_DISABLED, "The admin API is disabled: set sluice.admin.key"));
      Optional<String> token = Authenticator.bearer(header);
      if (token.isEmpty() || !ApiKeys.sameSecret(token.get(), adminKey.get())) {
        return refuse(ApiError.of(ApiError.Kind.INVALID_API_KEY, "The admin API needs 'Authorization: Bearer <admin key>'"));
      }
      return inner.get();
    });
  }

  /**
   * A new API request, taken unless a shutdown has begun (503 and {@code Connection: close}, so a client on a kept-alive
   * connection goes to another node) or the database refuses writes (see {@link #writable}). Decided per request
   * (inside an extraction), not when the route tree is built.
   */
  Route whenTaking(Supplier<Route> inner) {
    return extractMethod(m -> drain.draining()
        ? refuse(Drain.REFUSED.withHeaders(List.of(Connection.create("close"))))
        : writable(inner));
  }

  /** Reads always; changes only while the database accepts writes (see {@link #writable}). */
  Route whenWritableOrReading(Supplier<Route> inner) {
    return extractMethod(m -> m.equals(HttpMethods.GET) || m.equals(HttpMethods.HEAD) ? inner.get() : writable(inner));
  }

  /**
   * Only while the database accepts writes: else 503 {@code storage_unavailable} at once. An admitted API request
   * writes its user's counters and a usage record, and waiting on a user actor whose journal fails would only end in
   * a timeout. Call it inside a per-request extraction.
   */
  private Route writable(Supplier<Route> inner) {
    return storage.writable() ? inner.get() : refuse(ApiError.storageUnavailable(storage));
  }

  /** An admin body bound to {@code type} (see {@link AdminBodies#bind}); a wrong body is answered with its error. */
  static <T> Route body(Class<T> type, ApiError.Kind kind, Set<String> named, Function<T, Route> inner) {
    return entity(Unmarshaller.entityToString(), text -> inner.apply(AdminBodies.bind(text, type, kind, named)));
  }

  /**
   * A path that answers {@code allowed} alone: any other method gets 405 naming exactly it, even where a later route
   * (the /v1 pass-through POST) would take the method on other paths.
   */
  static Route only(HttpMethod allowed, Supplier<Route> inner) {
    return extractMethod(m -> m.equals(allowed) ? inner.get() : refuse(methodNotAllowed(allowed)));
  }

  private static ApiError methodNotAllowed(HttpMethod... allowed) {
    String names = Arrays.stream(allowed).map(HttpMethod::name).collect(Collectors.joining(", "));
    return ApiError.of(ApiError.Kind.METHOD_NOT_ALLOWED, "Method not allowed; this path accepts " + names)
        .withHeaders(List.of(Allow.create(allowed)));
  }

  /** Answers with the error. */
  static Route refuse(ApiError error) { return complete(OpenAiErrors.response(error)); }

  static Route json(JsonNode node) { return json(StatusCodes.OK, node); }

  static Route json(StatusCode status, JsonNode node) {
    return complete(HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, ByteString.fromString(node.toString())));
  }
}
