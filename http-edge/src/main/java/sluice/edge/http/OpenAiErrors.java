package sluice.edge.http;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.util.ByteString;

/**
 * Renders an {@link ApiError} as OpenAI error JSON, {@code {"error":{"message","type","param","code"}}}: as a whole
 * response, or as an SSE event once a stream's 200 head is out. Messages never contain secrets or stack traces.
 */
public final class OpenAiErrors {
  private OpenAiErrors() {}

  static ObjectNode body(ApiError e) {
    ObjectNode error = OpenAiJson.MAPPER.createObjectNode();
    error.put("message", e.message());
    error.put("type", e.kind().type());
    if (e.param() == null) error.putNull("param");
    else error.put("param", e.param());
    error.put("code", e.kind().code());
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.set("error", error);
    return root;
  }

  /**
   * The error as a response: its status and JSON, Retry-After when the client should come back, and the
   * {@code WWW-Authenticate} challenge on every 401 (RFC 6750).
   */
  static HttpResponse response(ApiError e) {
    List<HttpHeader> headers = new ArrayList<>(e.headers());
    if (e.retryAfterSeconds() >= 0) headers.add(RawHeader.create("Retry-After", Long.toString(e.retryAfterSeconds())));
    if (e.kind() == ApiError.Kind.INVALID_TOKEN) headers.add(RawHeader.create("WWW-Authenticate", "Bearer error=\"invalid_token\""));
    else if (e.status().intValue() == 401) headers.add(RawHeader.create("WWW-Authenticate", "Bearer"));
    return HttpResponse.create()
        .withStatus(e.status())
        .withHeaders(headers)
        .withEntity(ContentTypes.APPLICATION_JSON, ByteString.fromString(body(e).toString()));
  }

  /** An error inside an SSE stream whose 200 head has been sent: the SDKs raise it as an API error. */
  static ByteString sseEvent(ApiError e) {
    ObjectNode root = body(e);
    ((ObjectNode) root.get("error")).putNull("param");
    return ByteString.fromString("data: " + root + "\n\n");
  }
}
