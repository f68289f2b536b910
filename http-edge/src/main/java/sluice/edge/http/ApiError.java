package sluice.edge.http;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.util.ByteString;
import sluice.core.cluster.ClusterException;

/**
 * An error for the client, renderable either as an HTTP response (before the head is sent) or as an in-band SSE
 * event (after a streaming response has started).
 *
 * @param retryAfterSeconds the Retry-After hint, or -1 for none
 */
public record ApiError(StatusCode status, String type, String code, String param, String message, long retryAfterSeconds) {

  public HttpResponse toResponse() {
    List<HttpHeader> headers = new ArrayList<>();
    if (retryAfterSeconds >= 0) headers.add(RawHeader.create("Retry-After", Long.toString(retryAfterSeconds)));
    return OpenAiErrors.response(status, type, code, param, message, headers);
  }

  public ByteString toSseEvent() {
    return OpenAiErrors.sseError(type, code, message);
  }

  public static ApiError unavailable(String message, long retryAfterSeconds) {
    return new ApiError(StatusCodes.SERVICE_UNAVAILABLE, OpenAiErrors.SERVER_ERROR, "model_not_ready", null, message, retryAfterSeconds);
  }

  /** Maps a failure on the way to the model server; the client learns what to do, not how the cluster is built. */
  public static ApiError fromCluster(Throwable failure) {
    Throwable t = failure instanceof CompletionException && failure.getCause() != null ? failure.getCause() : failure;
    if (t instanceof ClusterException e) {
      return switch (e.code()) {
        case "unknown_job", "job_not_running" ->
            unavailable("The replica chosen for this request has just gone away; please retry", 1);
        case "unavailable", "refused", "scheduler_error" -> unavailable("The cluster serving this model is unreachable: "
            + e.getMessage(), 5);
        case "path_not_allowed" -> new ApiError(StatusCodes.FORBIDDEN, OpenAiErrors.INVALID_REQUEST, "endpoint_not_allowed",
            null, "This endpoint is not enabled for this model", -1);
        default -> e.status() == 504
            ? new ApiError(StatusCodes.GATEWAY_TIMEOUT, OpenAiErrors.SERVER_ERROR, "timeout", null,
                "The model server did not answer in time", -1)
            : new ApiError(StatusCodes.BAD_GATEWAY, OpenAiErrors.SERVER_ERROR, "upstream_error", null,
                "The model server failed: " + e.getMessage(), -1);
      };
    }
    if (t instanceof TimeoutException) return unavailable("The service did not answer in time", 5);
    return new ApiError(StatusCodes.INTERNAL_SERVER_ERROR, OpenAiErrors.SERVER_ERROR, "internal_error", null,
        "The gateway failed to handle the request", -1);
  }
}
