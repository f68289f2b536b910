package sluice.edge.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import sluice.core.AdminRefusal;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.service.LeaseReply;
import sluice.core.user.Admission;
import sluice.core.user.AdmissionRefusal;
import sluice.edge.auth.JwtVerifier;
import sluice.persistence.StorageHealth;

/**
 * The edge's only error type: every refusal a client or an operator gets. {@link Kind} is the one table from a reason
 * to HTTP status, OpenAI {@code type} and {@code code}; the {@code of} methods below are the one mapping from core's
 * typed reasons onto it. {@link OpenAiErrors} renders it, as a response before the head is sent or as an in-band SSE
 * event after a stream has started.
 *
 * @param param             the request field at fault, or null
 * @param retryAfterSeconds the Retry-After hint, or -1 for none
 * @param headers           more headers for the response (the rate-limit state, Allow)
 */
public record ApiError(Kind kind, String message, String param, long retryAfterSeconds, List<HttpHeader> headers) {
  /** The OpenAI error types of the client's and of the server's faults. */
  static final String INVALID = "invalid_request_error";
  static final String SERVER = "server_error";

  public ApiError {
    headers = List.copyOf(headers);
  }

  /** Every error the gateway gives, with the status the OpenAI SDKs map to their exception types. */
  public enum Kind {
    INVALID_JSON(400, INVALID, "invalid_json"),
    MISSING_MODEL(400, INVALID, "missing_model"),
    INVALID_TYPE(400, INVALID, "invalid_type"),
    INVALID_REQUEST(400, INVALID, "invalid_request"),
    INVALID_SCALE(400, INVALID, "invalid_scale"),
    /** A number above its documented bound (max_tokens); OpenAI's own code for it. */
    INTEGER_ABOVE_MAX_VALUE(400, INVALID, "integer_above_max_value"),
    /** The body could not be read (the client broke off, or framing was wrong). */
    UNREADABLE_BODY(400, INVALID, "unreadable_body"),
    /** A request the routes refused for a reason the table has no better kind for. */
    BAD_REQUEST(400, INVALID, "bad_request"),
    /** Not HTTP the server can parse: request line, URI, header syntax, framing headers ({@link ServerRefusals}). */
    MALFORMED_REQUEST(400, INVALID, "malformed_request"),
    INVALID_API_KEY(401, INVALID, "invalid_api_key"),
    KEY_REVOKED(401, INVALID, "key_revoked"),
    KEY_EXPIRED(401, INVALID, "key_expired"),
    INVALID_TOKEN(401, INVALID, "invalid_token"),
    ADMIN_DISABLED(403, INVALID, "admin_disabled"),
    MODEL_NOT_ALLOWED(403, INVALID, "model_not_allowed"),
    ENDPOINT_NOT_ALLOWED(403, INVALID, "endpoint_not_allowed"),
    UNKNOWN_URL(404, INVALID, "unknown_url"),
    MODEL_NOT_FOUND(404, INVALID, "model_not_found"),
    SERVICE_NOT_FOUND(404, INVALID, "service_not_found"),
    USER_NOT_FOUND(404, INVALID, "user_not_found"),
    KEY_NOT_FOUND(404, INVALID, "key_not_found"),
    REPLICA_NOT_FOUND(404, INVALID, "replica_not_found"),
    METHOD_NOT_ALLOWED(405, INVALID, "method_not_allowed"),
    /** The request body did not arrive in full within sluice.http.connections.body-timeout (ConnectionGuard). */
    BODY_TIMEOUT(408, INVALID, "body_timeout"),
    USER_EXISTS(409, INVALID, "user_exists"),
    KEY_EXISTS(409, INVALID, "key_exists"),
    REQUEST_TOO_LARGE(413, INVALID, "request_too_large"),
    URI_TOO_LONG(414, INVALID, "uri_too_long"),
    /** A body on a method that takes none (GET, DELETE, ...). */
    BODY_NOT_ALLOWED(422, INVALID, "body_not_allowed"),
    HEADERS_TOO_LARGE(431, INVALID, "headers_too_large"),
    CONCURRENCY_LIMIT(429, "requests", "concurrency_limit_exceeded"),
    REQUEST_RATE_LIMIT(429, "requests", "rate_limit_exceeded"),
    TOKEN_RATE_LIMIT(429, "tokens", "rate_limit_exceeded"),
    TOKEN_BUDGET(429, "insufficient_quota", "insufficient_quota"),
    INTERNAL(500, SERVER, "internal_error"),
    /** An HTTP method the server does not know at all (a known one on the wrong path is 405). */
    METHOD_NOT_IMPLEMENTED(501, INVALID, "method_not_implemented"),
    UPSTREAM_ERROR(502, SERVER, "upstream_error"),
    MODEL_NOT_READY(503, SERVER, "model_not_ready"),
    /** The cluster's agent stopped answering (frozen, wedged): refused at once rather than left hanging. */
    TUNNEL_UNRESPONSIVE(503, SERVER, "tunnel_unresponsive"),
    JWKS_UNAVAILABLE(503, SERVER, "jwks_unavailable"),
    /** The actor that owns the answer did not answer in time: its node may be failing over to another. */
    TEMPORARILY_UNAVAILABLE(503, SERVER, "temporarily_unavailable"),
    /** The database does not accept writes (full or read-only disk, database down). */
    STORAGE_UNAVAILABLE(503, SERVER, "storage_unavailable"),
    /** A shutdown has begun: new requests are refused, and streams still open at its deadline end with this. */
    SHUTTING_DOWN(503, SERVER, "server_shutdown"),
    TIMEOUT(504, SERVER, "timeout"),
    HTTP_VERSION_NOT_SUPPORTED(505, INVALID, "http_version_not_supported");

    private final int status;
    private final String type;
    private final String code;

    Kind(int status, String type, String code) {
      this.status = status;
      this.type = type;
      this.code = code;
    }

    public StatusCode status() { return StatusCodes.get(status); }

    /** The OpenAI error type. */
    public String type() { return type; }

    /** The OpenAI error code; never null. */
    public String code() { return code; }
  }

  public static ApiError of(Kind kind, String message) { return new ApiError(kind, message, null, -1, List.of()); }

  /** A model that is not configured: 404 only for that, never for a known model without a replica (503). */
  static ApiError modelNotFound(String model) {
    return of(Kind.MODEL_NOT_FOUND, "The model '" + model + "' does not exist").withParam("model");
  }

  /** While the database refuses writes: nothing that would write is done. */
  static ApiError storageUnavailable(StorageHealth storage) {
    return of(Kind.STORAGE_UNAVAILABLE, "The gateway cannot store data at the moment; please retry")
        .withRetryAfter(storage.retryAfter().toSeconds());
  }

  public ApiError withParam(String p) { return new ApiError(kind, message, p, retryAfterSeconds, headers); }

  public ApiError withRetryAfter(long seconds) { return new ApiError(kind, message, param, seconds, headers); }

  public ApiError withHeaders(List<HttpHeader> more) {
    List<HttpHeader> all = new ArrayList<>(headers);
    all.addAll(more);
    return new ApiError(kind, message, param, retryAfterSeconds, all);
  }

  public StatusCode status() { return kind.status(); }

  // ---------------------------------------------------------------- core's reasons

  /** The user actor refused the request. */
  public static ApiError of(Admission.Refused r) {
    Kind kind = switch (r.reason()) {
      case INVALID_REQUEST -> Kind.INVALID_REQUEST;
      case UNKNOWN_KEY -> Kind.INVALID_API_KEY;
      case KEY_REVOKED -> Kind.KEY_REVOKED;
      case KEY_EXPIRED -> Kind.KEY_EXPIRED;
      case MODEL_NOT_ALLOWED -> Kind.MODEL_NOT_ALLOWED;
      case CONCURRENCY_LIMIT -> Kind.CONCURRENCY_LIMIT;
      case REQUEST_RATE_LIMIT -> Kind.REQUEST_RATE_LIMIT;
      case TOKEN_RATE_LIMIT -> Kind.TOKEN_RATE_LIMIT;
      case TOKEN_BUDGET -> Kind.TOKEN_BUDGET;
    };
    ApiError e = new ApiError(kind, r.message(), null, r.retryAfterSeconds(), List.of());
    return r.reason() == AdmissionRefusal.MODEL_NOT_ALLOWED ? e.withParam("model") : e;
  }

  /** No replica could take the request: whatever the reason, the client may retry later. */
  public static ApiError of(LeaseReply.Unavailable u) {
    Kind kind = switch (u.reason()) {
      case DEGRADED, QUEUE_FULL, QUEUE_TIMEOUT -> Kind.MODEL_NOT_READY;
      case TUNNEL_UNRESPONSIVE -> Kind.TUNNEL_UNRESPONSIVE;
    };
    return of(kind, u.message()).withRetryAfter(u.retryAfterSeconds());
  }

  /** An operator's command was refused. */
  public static ApiError of(AdminRefusal r, String message) {
    Kind kind = switch (r) {
      case INVALID_REQUEST -> Kind.INVALID_REQUEST;
      case INVALID_SCALE -> Kind.INVALID_SCALE;
      case USER_EXISTS -> Kind.USER_EXISTS;
      case KEY_EXISTS -> Kind.KEY_EXISTS;
      case USER_NOT_FOUND -> Kind.USER_NOT_FOUND;
      case KEY_NOT_FOUND -> Kind.KEY_NOT_FOUND;
      case SERVICE_NOT_FOUND -> Kind.SERVICE_NOT_FOUND;
      case REPLICA_NOT_FOUND -> Kind.REPLICA_NOT_FOUND;
    };
    return of(kind, message);
  }

  /** A bearer JWT was refused: the client's fault (401), unless the issuer's keys could not be fetched (503). */
  public static ApiError of(JwtVerifier.Rejection r, String message) {
    return r == JwtVerifier.Rejection.JWKS_UNAVAILABLE ? of(Kind.JWKS_UNAVAILABLE, message).withRetryAfter(5)
        : of(Kind.INVALID_TOKEN, message);
  }

  /**
   * A failure on the way to the model server; the client learns what to do, not how the cluster is built. A timeout
   * of an ask means the service did not answer; anything else is the gateway's own fault.
   */
  public static ApiError fromFailure(Throwable failure) {
    var cluster = ClusterException.in(failure);
    if (cluster.isPresent()) return of(cluster.get().reason(), cluster.get().getMessage());
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof TimeoutException) return of(Kind.MODEL_NOT_READY, "The service did not answer in time").withRetryAfter(5);
    }
    return of(Kind.INTERNAL, "The gateway failed to handle the request");
  }

  /**
   * A failure in a route that is not about a model server (admin, users): an ask that was not answered in time is a
   * part of the cluster that is away for the moment (a node failing over), to be retried; anything else is ours.
   */
  static ApiError fromRouteFailure(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause() == t ? null : t.getCause()) {
      if (t instanceof TimeoutException) {
        return of(Kind.TEMPORARILY_UNAVAILABLE, "The gateway could not reach the owner of this data in time; please retry")
            .withRetryAfter(5);
      }
    }
    return of(Kind.INTERNAL, "The gateway failed to handle the request");
  }

  static ApiError of(ClusterFailure f, String detail) {
    return switch (f) {
      case UNKNOWN_JOB, JOB_NOT_RUNNING ->
          of(Kind.MODEL_NOT_READY, "The replica chosen for this request has just gone away; please retry").withRetryAfter(1);
      case UNAVAILABLE, AGENT_BUSY, SCHEDULER_ERROR ->
          of(Kind.MODEL_NOT_READY, "The cluster serving this model is unreachable: " + detail).withRetryAfter(5);
      case TUNNEL_UNRESPONSIVE ->
          of(Kind.TUNNEL_UNRESPONSIVE, "The cluster serving this model stopped answering; please retry later").withRetryAfter(5);
      case PATH_NOT_ALLOWED -> of(Kind.ENDPOINT_NOT_ALLOWED, "This endpoint is not enabled for this model");
      case AGENT_TIMEOUT, UPSTREAM_TIMEOUT -> of(Kind.TIMEOUT, "The model server did not answer in time");
      case CONNECTION_LOST, AGENT_ERROR, BAD_CALL, UNKNOWN_SERVICE, UPSTREAM_ERROR ->
          of(Kind.UPSTREAM_ERROR, "The model server failed: " + detail);
    };
  }
}
