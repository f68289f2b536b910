package sluice.edge.cli;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;

/** How the admin CLI reaches the gateway: one call per command, so tests can see exactly what each command sends. */
public interface AdminTransport {

  /**
   * One admin API call.
   *
   * @param path  starting with {@code /admin/}, every segment already valid in a URL path
   * @param query parameters in the order given, not yet encoded
   * @param body  the JSON body, or null for none
   */
  record Request(String method, String path, Map<String, String> query, JsonNode body) {
    public Request {
      query = Collections.unmodifiableMap(new LinkedHashMap<>(query));
    }

    public static Request of(String method, String path, JsonNode body) { return new Request(method, path, Map.of(), body); }
  }

  /** The gateway's answer, whatever its status. */
  record Response(int status, String contentType, String body) {}

  /** Sends one call; throws {@link IOException} when the gateway cannot be reached or the connection breaks. */
  Response send(Request request) throws IOException, InterruptedException;
}
