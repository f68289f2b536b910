package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.Allow;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.ExceptionHandler;
import org.apache.pekko.http.javadsl.server.MethodRejection;
import org.apache.pekko.http.javadsl.server.RejectionHandler;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Every error leaves the gateway as OpenAI error JSON: {@code {"error":{"message","type","param","code"}}}, with the
 * status the SDKs map to their exception types. Messages never contain secrets or internal stack traces.
 */
public final class OpenAiErrors {
  private static final Logger LOG = LoggerFactory.getLogger(OpenAiErrors.class);
  public static final String INVALID_REQUEST = "invalid_request_error";
  public static final String SERVER_ERROR = "server_error";

  private OpenAiErrors() {}

  public static ObjectNode body(String message, String type, String param, String code) {
    ObjectNode error = OpenAiJson.MAPPER.createObjectNode();
    error.put("message", message);
    error.put("type", type);
    if (param == null) error.putNull("param");
    else error.put("param", param);
    if (code == null) error.putNull("code");
    else error.put("code", code);
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.set("error", error);
    return root;
  }

  public static HttpResponse response(StatusCode status, String type, String code, String param, String message,
                                      List<HttpHeader> headers) {
    return HttpResponse.create()
        .withStatus(status)
        .withHeaders(headers)
        .withEntity(ContentTypes.APPLICATION_JSON, ByteString.fromString(body(message, type, param, code).toString()));
  }

  public static HttpResponse badRequest(String message, String param, String code) {
    return response(StatusCodes.BAD_REQUEST, INVALID_REQUEST, code, param, message, List.of());
  }

  public static HttpResponse unauthorized(String message) {
    return response(StatusCodes.UNAUTHORIZED, INVALID_REQUEST, "invalid_api_key", null, message,
        List.of(RawHeader.create("WWW-Authenticate", "Bearer")));
  }

  public static HttpResponse modelNotFound(String model) {
    return response(StatusCodes.NOT_FOUND, INVALID_REQUEST, "model_not_found", "model",
        "The model '" + model + "' does not exist", List.of());
  }

  public static HttpResponse unavailable(String message, long retryAfterSeconds) {
    return response(StatusCodes.SERVICE_UNAVAILABLE, SERVER_ERROR, "model_not_ready", null, message,
        List.of(RawHeader.create("Retry-After", Long.toString(retryAfterSeconds))));
  }

  public static HttpResponse tooLarge(long limit) {
    return response(StatusCodes.PAYLOAD_TOO_LARGE, INVALID_REQUEST, "request_too_large", null,
        "The request body exceeds the limit of " + limit + " bytes", List.of());
  }

  public static HttpResponse internal() {
    return response(StatusCodes.INTERNAL_SERVER_ERROR, SERVER_ERROR, "internal_error", null,
        "The gateway failed to handle the request", List.of());
  }

  /** An error inside an SSE stream whose 200 head has been sent: the SDKs raise it as an API error. */
  public static ByteString sseError(String type, String code, String message) {
    return ByteString.fromString("data: " + body(message, type, null, code) + "\n\n");
  }

  /** Turns the routes' rejections into OpenAI errors: unknown paths 404, wrong methods 405 with Allow. */
  public static RejectionHandler rejections() {
    return RejectionHandler.newBuilder()
        .handleAll(MethodRejection.class, rejections -> {
          List<org.apache.pekko.http.javadsl.model.HttpMethod> allowed = new ArrayList<>();
          rejections.forEach(r -> allowed.add(r.supported()));
          String names = allowed.stream().map(org.apache.pekko.http.javadsl.model.HttpMethod::name).collect(Collectors.joining(", "));
          return complete(response(StatusCodes.METHOD_NOT_ALLOWED, INVALID_REQUEST, "method_not_allowed", null,
              "Method not allowed; this path accepts " + names, List.of(Allow.create(allowed.toArray(org.apache.pekko.http.javadsl.model.HttpMethod[]::new)))));
        })
        .handleNotFound(complete(response(StatusCodes.NOT_FOUND, INVALID_REQUEST, "unknown_url", null,
            "Unknown request URL", List.of())))
        .handle(org.apache.pekko.http.javadsl.server.Rejection.class, r -> {
          LOG.debug("request rejected: {}", r);
          return complete(badRequest("The request could not be processed: " + r.getClass().getSimpleName(), null, null));
        })
        .build();
  }

  public static ExceptionHandler exceptions() {
    return ExceptionHandler.newBuilder()
        .matchAny(e -> {
          LOG.error("unhandled error in a route", e);
          return complete(internal());
        })
        .build();
  }
}
