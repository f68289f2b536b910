package sluice.edge.http;

import org.apache.pekko.event.LoggingAdapter;
import org.apache.pekko.http.ParsingErrorHandler;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.scaladsl.model.ErrorInfo;
import org.apache.pekko.http.scaladsl.model.StatusCode;
import org.apache.pekko.http.scaladsl.settings.ServerSettings;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The refusals pekko-http makes before a request reaches the routes (a request line, header or framing it cannot
 * parse, a header or URI above its limits, an unknown method or HTTP version), as OpenAI error JSON. Configured as
 * {@code pekko.http.server.parsing.error-handler}; pekko-http makes it with its no-argument constructor.
 *
 * <p>Pekko's own handler logs the parse error in full, which can hold the request line and a header's value (an API
 * key); this one logs only the status and the header's name, at DEBUG: a client can send such requests at will.
 */
public final class ServerRefusals extends ParsingErrorHandler {
  private static final Logger LOG = LoggerFactory.getLogger(ServerRefusals.class);
  /** Pekko's summary of a malformed request says what is wrong; it is cut, as it may quote the client's bytes. */
  private static final int MAX_SUMMARY = 200;

  public ServerRefusals() {}

  @Override
  public HttpResponse handle(StatusCode status, ErrorInfo info, LoggingAdapter log, ServerSettings settings) {
    ApiError error = of(status.intValue(), info.summary(), settings.getParserSettings().getMaxUriLength());
    if (LOG.isDebugEnabled()) {
      String header = info.errorHeaderName().isEmpty() ? "" : " (header '" + info.errorHeaderName() + "')";
      LOG.debug("refused a request the HTTP server could not take: {}{}", status.intValue(), header);
    }
    // Pekko's status stands even where the table has no kind of its own for it.
    return OpenAiErrors.response(error).withStatus(status);
  }

  static ApiError of(int status, String summary, long maxUriLength) {
    return switch (status) {
      case 413 -> ApiError.of(ApiError.Kind.REQUEST_TOO_LARGE, "The request body exceeds the server's limit");
      case 414 -> ApiError.of(ApiError.Kind.URI_TOO_LONG, "The request URI is longer than " + maxUriLength + " characters");
      case 422 -> ApiError.of(ApiError.Kind.BODY_NOT_ALLOWED, "A request with this method must not have a body");
      case 431 -> ApiError.of(ApiError.Kind.HEADERS_TOO_LARGE, "A request header is longer than the server accepts, or there"
          + " are too many headers");
      case 501 -> ApiError.of(ApiError.Kind.METHOD_NOT_IMPLEMENTED, "The HTTP method is not supported");
      case 505 -> ApiError.of(ApiError.Kind.HTTP_VERSION_NOT_SUPPORTED, "The HTTP version is not supported: use HTTP/1.1");
      default -> ApiError.of(status == 400 ? ApiError.Kind.MALFORMED_REQUEST : ApiError.Kind.BAD_REQUEST,
          "The HTTP request is malformed" + (summary == null || summary.isBlank() ? ""
              : ": " + (summary.length() > MAX_SUMMARY ? summary.substring(0, MAX_SUMMARY) + "..." : summary)));
    };
  }
}
