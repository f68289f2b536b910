package sluice.edge.observe;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.util.Collection;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One line per finished request on logger {@code sluice.request}: {@code key=value} pairs, or with
 * {@code sluice.log.format = json} one JSON object (its own appender, see {@link LogFormat}). The fields of
 * {@link FinishedRequest} and the node; never a prompt, a completion, a key's secret or a header.
 *
 * <p>Model and endpoint are written as the metrics label them (a configured model or {@code -}, one of the OpenAI
 * endpoints or {@code other}): both are whatever the client sent until checked, and a client that puts a key into a
 * path or a model name must not get it into the log. The usage record keeps what was sent.
 */
public final class RequestLog {
  public static final String LOGGER = "sluice.request";
  private static final Logger LOG = LoggerFactory.getLogger(LOGGER);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final boolean json;
  private final String node;
  private final Set<String> models;

  /**
   * @param node   this gateway node's cluster address (host:port), so a cluster's logs say where a request ran
   * @param models the configured models: the only model names written as they are
   */
  public RequestLog(boolean json, String node, Collection<String> models) {
    this.json = json;
    this.node = node;
    this.models = Set.copyOf(models);
  }

  private String model(FinishedRequest r) { return models.contains(r.model()) ? r.model() : RequestMeters.UNKNOWN_MODEL; }

  public void finished(FinishedRequest r) {
    if (!LOG.isInfoEnabled()) return;
    LOG.info(json ? json(r) : text(r));
  }

  String json(FinishedRequest r) {
    ObjectNode n = JSON.createObjectNode();
    n.put("time", Instant.now().toString());
    n.put("level", "INFO");
    n.put("logger", LOGGER);
    n.put("request_id", r.requestId());
    n.put("user", r.user());
    n.put("key_id", r.keyId());
    n.put("model", model(r));
    n.put("endpoint", RequestMeters.endpointLabel(r.endpoint()));
    n.put("stream", r.stream());
    n.put("status", r.status());
    n.put("outcome", r.outcome());
    if (r.jobId() != null) n.put("job", r.jobId()); else n.putNull("job");
    n.put("node", node);
    if (r.ttft() != null) n.put("ttft_ms", millis(r.ttft())); else n.putNull("ttft_ms");
    n.put("duration_ms", millis(r.duration()));
    n.put("prompt_tokens", r.promptTokens());
    n.put("completion_tokens", r.completionTokens());
    n.put("client_disconnected", r.clientDisconnected());
    return n.toString();
  }

  String text(FinishedRequest r) {
    StringBuilder b = new StringBuilder(256).append("request");
    field(b, "request_id", r.requestId());
    field(b, "user", r.user());
    field(b, "key_id", r.keyId());
    field(b, "model", model(r));
    field(b, "endpoint", RequestMeters.endpointLabel(r.endpoint()));
    field(b, "stream", Boolean.toString(r.stream()));
    field(b, "status", Integer.toString(r.status()));
    field(b, "outcome", r.outcome());
    field(b, "job", r.jobId() == null ? "-" : r.jobId());
    field(b, "node", node);
    field(b, "ttft_ms", r.ttft() == null ? "-" : Double.toString(millis(r.ttft())));
    field(b, "duration_ms", Double.toString(millis(r.duration())));
    field(b, "prompt_tokens", Long.toString(r.promptTokens()));
    field(b, "completion_tokens", Long.toString(r.completionTokens()));
    field(b, "client_disconnected", Boolean.toString(r.clientDisconnected()));
    return b.toString();
  }

  private static void field(StringBuilder b, String name, String value) {
    b.append(' ').append(name).append('=');
    if (bare(value)) {
      b.append(value);
      return;
    }
    b.append('"');
    String v = value == null ? "" : value.length() > 200 ? value.substring(0, 200) : value;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      if (c == '"' || c == '\\') b.append('\\').append(c);
      else if (c < 0x20 || c == 0x7f) b.append(String.format("\\u%04x", (int) c));   // no forged lines
      else b.append(c);
    }
    b.append('"');
  }

  /** Written without quotes: 1 to 200 of {@code [A-Za-z0-9._:/@+-]} (a loop: this runs for 15 fields per request). */
  private static boolean bare(String v) {
    if (v == null || v.isEmpty() || v.length() > 200) return false;
    for (int i = 0; i < v.length(); i++) {
      char c = v.charAt(i);
      boolean ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || ".:/@+_-".indexOf(c) >= 0;
      if (!ok) return false;
    }
    return true;
  }

  /** Milliseconds with a tenth: a local answer takes about one. */
  private static double millis(Duration d) { return Math.round(d.toNanos() / 100_000.0) / 10.0; }
}
