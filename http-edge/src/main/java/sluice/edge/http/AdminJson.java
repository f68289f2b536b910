package sluice.edge.http;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Locale;
import sluice.core.service.ServiceStatus;
import sluice.core.tunnel.TunnelStatus;
import sluice.core.user.KeyView;
import sluice.core.user.LimitsJson;
import sluice.core.user.UserView;
import sluice.persistence.usage.UsageFilter;
import sluice.persistence.usage.UsageRecord;
import sluice.persistence.usage.UsageSummary;

/** How the admin API shows services, tunnels, users, keys and usage (snake_case JSON, ISO times). */
final class AdminJson {
  private AdminJson() {}

  static ObjectNode service(ServiceStatus s) {
    ObjectNode n = OpenAiJson.MAPPER.valueToTree(s);
    n.put("availability", s.availability());
    n.put("in_flight", s.inFlight());
    return n;
  }

  static ObjectNode services(List<ServiceStatus> statuses) {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    ArrayNode list = root.putArray("services");
    statuses.forEach(s -> list.add(service(s)));
    return root;
  }

  static ObjectNode tunnels(List<TunnelStatus> statuses) {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    ArrayNode list = root.putArray("tunnels");
    statuses.forEach(t -> {
      ObjectNode n = OpenAiJson.MAPPER.valueToTree(t);
      n.put("state", t.state().name().toLowerCase(Locale.ROOT));
      list.add(n);
    });
    return root;
  }

  static ObjectNode user(UserView u) {
    ObjectNode n = OpenAiJson.MAPPER.createObjectNode();
    n.put("id", u.id());
    n.put("object", "user");
    u.groups().forEach(n.putArray("groups")::add);
    n.put("created_at", u.createdAt().toString());
    n.put("source", u.source());
    n.set("limits", LimitsJson.toJson(u.limits()));
    n.set("effective_limits", LimitsJson.toJson(u.effective()));
    ArrayNode keys = n.putArray("keys");
    u.keys().forEach(k -> keys.add(key(k)));
    ObjectNode usage = n.putObject("usage");
    usage.set("requests", OpenAiJson.MAPPER.valueToTree(u.requests()));
    usage.set("tokens", OpenAiJson.MAPPER.valueToTree(u.tokens()));
    usage.put("in_flight", u.inFlight());
    return n;
  }

  static ObjectNode key(KeyView k) {
    ObjectNode n = OpenAiJson.MAPPER.createObjectNode();
    n.put("id", k.id());
    n.put("object", "api_key");
    n.put("name", k.name());
    n.put("created_at", k.createdAt().toString());
    if (k.expiresAt() == null) n.putNull("expires_at");
    else n.put("expires_at", k.expiresAt().toString());
    k.models().forEach(n.putArray("models")::add);
    n.set("limits", LimitsJson.toJson(k.limits()));
    if (k.revokedAt() == null) n.putNull("revoked_at");
    else n.put("revoked_at", k.revokedAt().toString());
    return n;
  }

  /** Totals and sums over everything {@code filter} matches, and the newest {@code limit} of {@code records}. */
  static ObjectNode usage(UsageFilter filter, UsageSummary summary, List<UsageRecord> records, int limit) {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.put("object", "usage");
    ObjectNode f = root.putObject("filter");
    filter.user().ifPresent(u -> f.put("user", u));
    filter.model().ifPresent(m -> f.put("model", m));
    filter.from().ifPresent(t -> f.put("from", t.toString()));
    filter.to().ifPresent(t -> f.put("to", t.toString()));
    root.set("totals", OpenAiJson.MAPPER.valueToTree(summary.total()));
    root.set("by_user_model", OpenAiJson.MAPPER.valueToTree(summary.byUserAndModel()));
    ArrayNode data = root.putArray("data");
    records.stream().limit(limit).forEach(r -> data.add(record(r)));
    root.put("has_more", records.size() > limit);
    return root;
  }

  private static ObjectNode record(UsageRecord r) {
    ObjectNode n = OpenAiJson.MAPPER.createObjectNode();
    n.put("request_id", r.requestId());
    n.put("user", r.userId());
    n.put("key_id", r.keyId());
    n.put("model", r.model());
    n.put("endpoint", r.endpoint());
    if (r.jobId() != null) n.put("job_id", r.jobId());
    n.put("stream", r.stream());
    n.put("status", r.status());
    n.put("prompt_tokens", r.promptTokens());
    n.put("completion_tokens", r.completionTokens());
    n.put("total_tokens", r.totalTokens());
    if (r.timeToFirstToken() != null) n.put("ttft_ms", r.timeToFirstToken().toMillis());
    n.put("duration_ms", r.duration().toMillis());
    n.put("client_disconnected", r.clientDisconnected());
    n.put("server_shutdown", r.serverShutdown());
    n.put("started_at", r.startedAt().toString());
    return n;
  }
}
