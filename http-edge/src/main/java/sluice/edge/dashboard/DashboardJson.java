package sluice.edge.dashboard;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import sluice.core.service.ServiceStatus;
import sluice.core.tunnel.TunnelStatus;
import sluice.edge.http.OpenAiJson;
import sluice.persistence.usage.TrafficMinute;
import sluice.persistence.usage.UserTokens;

/**
 * The dashboard's events as JSON (docs/api.md, "Dashboard events"), in the admin API's style: services as
 * {@code GET /admin/services} shows them, less what changes by itself every second (the page counts time left down
 * from {@code ends_at} itself), so that a state event goes out only when something happened.
 */
final class DashboardJson {
  /** The traffic series: this many minutes, the last one the current minute. */
  static final int MINUTES = 60;
  static final String OTHER_MODELS = "(other)";

  private DashboardJson() {}

  /** The state without its time: equal contents mean nothing changed. */
  static ObjectNode state(String node, Duration keepAlive, List<ServiceStatus> services,
                          Map<String, List<TunnelStatus>> tunnels, List<JobEvents.Event> events) {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.put("node", node);
    root.put("keep_alive_ms", keepAlive.toMillis());
    ArrayNode list = root.putArray("services");
    services.forEach(s -> list.add(service(s)));
    ArrayNode nodes = root.putArray("tunnels");
    tunnels.forEach((gateway, statuses) -> {
      ObjectNode n = nodes.addObject();
      n.put("gateway", gateway);
      n.put("self", gateway.equals(node));
      ArrayNode t = n.putArray("tunnels");
      statuses.forEach(status -> t.add(tunnel(status)));
    });
    ArrayNode e = root.putArray("events");
    events.forEach(ev -> e.add(OpenAiJson.MAPPER.valueToTree(ev)));
    return root;
  }

  private static ObjectNode service(ServiceStatus s) {
    ObjectNode n = OpenAiJson.MAPPER.valueToTree(s);
    n.remove("at");
    n.put("availability", s.availability());
    n.put("in_flight", s.inFlight());
    for (JsonNode r : n.withArray("replicas")) ((ObjectNode) r).remove("time_left_seconds");
    return n;
  }

  private static ObjectNode tunnel(TunnelStatus t) {
    ObjectNode n = OpenAiJson.MAPPER.valueToTree(t);
    n.put("state", t.state().name().toLowerCase(Locale.ROOT));
    return n;
  }

  /** {@code content} with the time it was taken. */
  static ObjectNode stamped(ObjectNode content, Instant now) {
    ObjectNode n = content.deepCopy();
    n.put("now", now.toString());
    return n;
  }

  /**
   * Per model, one value per minute of the {@link #MINUTES} minutes up to {@code now} (oldest first): requests, errors
   * and the median time to first token (null where no request got a token). Every configured service has a row;
   * models nobody configured (a client's typo) are summed into one row, so a client cannot add rows.
   */
  static ObjectNode traffic(Instant now, List<String> services, List<TrafficMinute> minutes, Instant today,
                            List<UserTokens> top) {
    Instant first = firstMinute(now);
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.put("now", now.toString());
    root.put("from", first.toString());
    root.put("minutes", MINUTES);
    Map<String, Series> byModel = new LinkedHashMap<>();
    services.forEach(s -> byModel.put(s, new Series()));
    for (TrafficMinute m : minutes) {
      int i = (int) ChronoUnit.MINUTES.between(first, m.minute());
      if (i < 0 || i >= MINUTES) continue;
      Series s = byModel.computeIfAbsent(services.contains(m.model()) ? m.model() : OTHER_MODELS, k -> new Series());
      s.requests[i] += m.requests();
      s.errors[i] += m.errors();
      // The median of a merged "other" minute is not known: the first model's stands for it.
      if (m.ttftP50() != null && s.ttft[i] == null) s.ttft[i] = m.ttftP50();
    }
    ArrayNode models = root.putArray("models");
    byModel.forEach((model, s) -> {
      ObjectNode n = models.addObject();
      n.put("model", model);
      ArrayNode req = n.putArray("requests");
      ArrayNode err = n.putArray("errors");
      ArrayNode ttft = n.putArray("ttft_p50_ms");
      long requests = 0;
      long errors = 0;
      for (int i = 0; i < MINUTES; i++) {
        req.add(s.requests[i]);
        err.add(s.errors[i]);
        if (s.ttft[i] == null) ttft.addNull(); else ttft.add(Math.round(s.ttft[i]));
        requests += s.requests[i];
        errors += s.errors[i];
      }
      n.put("total_requests", requests);
      n.put("total_errors", errors);
    });
    ObjectNode users = root.putObject("top_users");
    users.put("since", today.toString());
    ArrayNode list = users.putArray("users");
    top.forEach(u -> list.addObject().put("user", u.user()).put("tokens", u.tokens()).put("requests", u.requests()));
    return root;
  }

  /** The start of the oldest minute shown at {@code now}. */
  static Instant firstMinute(Instant now) { return now.truncatedTo(ChronoUnit.MINUTES).minus(Duration.ofMinutes(MINUTES - 1)); }

  /** 00:00 UTC of {@code now}'s day. */
  static Instant today(Instant now) { return now.truncatedTo(ChronoUnit.DAYS); }

  private static final class Series {
    final long[] requests = new long[MINUTES];
    final long[] errors = new long[MINUTES];
    final Double[] ttft = new Double[MINUTES];
  }
}
