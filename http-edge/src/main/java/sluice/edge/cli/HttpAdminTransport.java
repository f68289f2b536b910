package sluice.edge.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;
import sluice.edge.http.OpenAiJson;

/** The admin API over HTTP, the admin key in the Authorization header. */
public final class HttpAdminTransport implements AdminTransport {
  static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(10);
  /** Long enough for a large usage export. */
  static final Duration RESPONSE_TIMEOUT = Duration.ofMinutes(2);

  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1).connectTimeout(CONNECT_TIMEOUT).build();
  private final String base;
  private final String adminKey;

  /** @param gateway the gateway's base URL, possibly with a path prefix (a reverse proxy's) */
  public HttpAdminTransport(URI gateway, String adminKey) {
    String s = gateway.toString();
    this.base = s.endsWith("/") ? s.substring(0, s.length() - 1) : s;
    this.adminKey = adminKey;
  }

  @Override public Response send(Request request) throws IOException, InterruptedException {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(base + request.path() + query(request.query())))
        .timeout(RESPONSE_TIMEOUT)
        .header("Authorization", "Bearer " + adminKey)
        .header("Accept", "application/json, text/csv");
    if (request.body() == null) {
      b.method(request.method(), HttpRequest.BodyPublishers.noBody());
    } else {
      b.header("Content-Type", "application/json").method(request.method(), HttpRequest.BodyPublishers.ofString(json(request)));
    }
    HttpResponse<String> resp = http.send(b.build(), HttpResponse.BodyHandlers.ofString(StandardCharsets.UTF_8));
    return new Response(resp.statusCode(), resp.headers().firstValue("Content-Type").orElse(""), resp.body());
  }

  private static String json(Request request) {
    try {
      return OpenAiJson.MAPPER.writeValueAsString(request.body());
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("cannot write a JSON tree", e);   // a tree always serializes
    }
  }

  private static String query(Map<String, String> params) {
    if (params.isEmpty()) return "";
    return params.entrySet().stream()
        .map(e -> URLEncoder.encode(e.getKey(), StandardCharsets.UTF_8) + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
        .collect(Collectors.joining("&", "?", ""));
  }
}
