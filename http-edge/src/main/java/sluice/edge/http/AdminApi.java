package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.delete;
import static org.apache.pekko.http.javadsl.server.Directives.entity;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.onSuccess;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.parameterMap;
import static org.apache.pekko.http.javadsl.server.Directives.patch;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEnd;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.OutputStream;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.regex.Pattern;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.http.javadsl.unmarshalling.Unmarshaller;
import org.apache.pekko.stream.javadsl.StreamConverters;
import org.apache.pekko.util.ByteString;
import sluice.core.user.KeyView;
import sluice.core.user.Limits;
import sluice.core.user.UserActor;
import sluice.core.user.LimitsJson;
import sluice.core.user.UserDirectory;
import sluice.core.user.UserLimits;
import sluice.core.user.UserReply;
import sluice.core.user.UserView;
import sluice.persistence.usage.UsageFilter;
import sluice.persistence.usage.UsageRecord;
import sluice.persistence.usage.UsageStore;
import sluice.persistence.usage.UsageSummary;
import sluice.persistence.usage.UsageWriter;

/**
 * The admin API of users, keys and usage (the admin key is checked by {@link Routes}). Keys are generated here and
 * shown once, in the response that creates them; the user actor only ever sees their SHA-256 digest.
 */
public final class AdminApi {
  private static final Pattern USER_ID = UserActor.USER_ID;
  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9/][A-Za-z0-9._@:/+-]{0,127}");
  private static final int MAX_KEY_NAME = 128;
  private static final int DEFAULT_RECORDS = 100;
  private static final int MAX_RECORDS = 10_000;
  private static final SecureRandom RANDOM = new SecureRandom();

  private final UserDirectory users;
  private final UsageStore store;
  private final UsageWriter writer;
  private final Executor blocking;
  private final Clock clock;

  public AdminApi(UserDirectory users, UsageStore store, UsageWriter writer, Executor blocking, Clock clock) {
    this.users = users;
    this.store = store;
    this.writer = writer;
    this.blocking = blocking;
    this.clock = clock;
  }

  public Route routes() {
    return concat(
        path("users", () -> concat(post(this::createUser), get(this::listUsers))),
        path(segment("users").slash(segment()), id -> concat(get(() -> getUser(id)), patch(() -> updateUser(id)))),
        path(segment("users").slash(segment()).slash("keys"), id -> post(() -> createKey(id))),
        path(segment("keys").slash(segment()), id -> delete(() -> revokeKey(id))),
        path("usage", () -> get(this::usage)));
  }

  // ---------------------------------------------------------------- users

  private Route createUser() {
    return jsonBody(Set.of("id", "groups", "limits"), body -> {
      JsonNode id = body.get("id");
      if (id == null || !id.isTextual() || !USER_ID.matcher(id.asText()).matches()) {
        return invalid("'id' must match " + USER_ID.pattern(), "id");
      }
      List<String> groups;
      UserLimits limits;
      try {
        groups = groups(body.get("groups")).orElse(List.of());
        limits = body.hasNonNull("limits") ? LimitsJson.userLimits(body.get("limits")) : UserLimits.NONE;
      } catch (IllegalArgumentException e) {
        return invalid(e.getMessage(), null);
      }
      return onSuccess(users.create(id.asText(), groups, limits), reply -> userReply(reply, StatusCodes.CREATED));
    });
  }

  private Route listUsers() {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    users.userIds().forEach(id -> data.addObject().put("id", id));
    return json(StatusCodes.OK, root);
  }

  private Route getUser(String id) {
    if (!USER_ID.matcher(id).matches()) return notFound("user_not_found", "No user '" + id + "'");
    return onSuccess(users.get(id), reply -> userReply(reply, StatusCodes.OK));
  }

  /** Present fields replace: {@code groups} the user's groups, {@code limits} its overrides ({} = the group's defaults). */
  private Route updateUser(String id) {
    if (!USER_ID.matcher(id).matches()) return notFound("user_not_found", "No user '" + id + "'");
    return jsonBody(Set.of("groups", "limits"), body -> {
      Optional<List<String>> groups;
      Optional<UserLimits> limits;
      try {
        groups = groups(body.get("groups"));
        limits = body.has("limits")
            ? Optional.of(body.get("limits").isNull() ? UserLimits.NONE : LimitsJson.userLimits(body.get("limits")))
            : Optional.empty();
      } catch (IllegalArgumentException e) {
        return invalid(e.getMessage(), null);
      }
      if (groups.isEmpty() && limits.isEmpty()) return invalid("Nothing to change: send 'groups' and/or 'limits'", null);
      return onSuccess(users.update(id, groups, limits), reply -> userReply(reply, StatusCodes.OK));
    });
  }

  private static Optional<List<String>> groups(JsonNode node) {
    if (node == null) return Optional.empty();
    if (!node.isArray()) throw new IllegalArgumentException("'groups' must be an array of group names");
    List<String> groups = new ArrayList<>();
    for (JsonNode g : node) {
      if (!g.isTextual() || !GROUP.matcher(g.asText()).matches()) {
        throw new IllegalArgumentException("'groups' entries must match " + GROUP.pattern());
      }
      if (!groups.contains(g.asText())) groups.add(g.asText());
    }
    return Optional.of(groups);
  }

  // ---------------------------------------------------------------- keys

  private Route createKey(String userId) {
    if (!USER_ID.matcher(userId).matches()) return notFound("user_not_found", "No user '" + userId + "'");
    return jsonBody(Set.of("name", "expires_at", "models", "limits"), body -> {
      String name = "";
      Instant expiresAt = null;
      List<String> models = new ArrayList<>();
      Limits limits;
      try {
        JsonNode n = body.get("name");
        if (n != null && !n.isNull()) {
          if (!n.isTextual() || n.asText().length() > MAX_KEY_NAME || n.asText().chars().anyMatch(Character::isISOControl)) {
            throw new IllegalArgumentException("'name' must be a string of at most " + MAX_KEY_NAME + " characters");
          }
          name = n.asText();
        }
        JsonNode e = body.get("expires_at");
        if (e != null && !e.isNull()) {
          expiresAt = instant(e.isTextual() ? e.asText() : "", "expires_at", false);
          if (!expiresAt.isAfter(clock.instant())) throw new IllegalArgumentException("'expires_at' must be in the future");
        }
        JsonNode m = body.get("models");
        if (m != null && !m.isNull()) {
          if (!m.isArray()) throw new IllegalArgumentException("'models' must be an array of model ids");
          for (JsonNode id : m) {
            if (!id.isTextual() || id.asText().isBlank()) throw new IllegalArgumentException("'models' entries must be model ids");
            models.add(id.asText());
          }
        }
        limits = body.hasNonNull("limits") ? LimitsJson.limits(body.get("limits")) : Limits.NONE;
      } catch (IllegalArgumentException ex) {
        return invalid(ex.getMessage(), null);
      }
      String secret = newSecret();
      String keyId = "key_" + HexFormat.of().formatHex(random(12));
      Instant expires = expiresAt;
      return onSuccess(users.createKey(userId, keyId, ApiKeys.sha256(secret), name, expires, models, limits), reply -> {
        if (!(reply instanceof UserReply.Done d)) return refused((UserReply.Refused) reply);
        KeyView key = d.user().keys().stream().filter(k -> k.id().equals(keyId)).findFirst().orElseThrow();
        ObjectNode out = keyJson(key);
        out.put("user", userId);
        out.put("key", secret);      // the only time the secret leaves the gateway
        return json(StatusCodes.CREATED, out);
      });
    });
  }

  private Route revokeKey(String keyId) {
    return onSuccess(users.revokeKey(keyId), reply -> {
      if (!(reply instanceof UserReply.Done d)) return refused((UserReply.Refused) reply);
      KeyView key = d.user().keys().stream().filter(k -> k.id().equals(keyId)).findFirst().orElseThrow();
      ObjectNode out = keyJson(key);
      out.put("user", d.user().id());
      out.put("revoked", true);
      return json(StatusCodes.OK, out);
    });
  }

  /** 32 random bytes: 256 bits, so an unsalted SHA-256 digest of it cannot be reversed or guessed. */
  private static String newSecret() {
    return "sk-sluice-" + Base64.getUrlEncoder().withoutPadding().encodeToString(random(32));
  }

  private static byte[] random(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  // ---------------------------------------------------------------- usage

  /**
   * {@code ?user=&model=&from=&to=&limit=&format=csv}: totals and per-user-and-model sums over everything matching,
   * plus the newest records (JSON), or every matching record as CSV. Records still in the writer's buffer are flushed
   * first, so a request that just ended is counted.
   */
  private Route usage() {
    return parameterMap(params -> optionalHeaderValueByName("Accept", accept -> {
      for (String p : params.keySet()) {
        if (!Set.of("user", "model", "from", "to", "limit", "format").contains(p)) return invalid("Unknown parameter '" + p + "'", p);
      }
      UsageFilter filter;
      int limit;
      try {
        filter = new UsageFilter(Optional.ofNullable(params.get("user")), Optional.ofNullable(params.get("model")),
            Optional.ofNullable(params.get("from")).map(v -> instant(v, "from", false)),
            Optional.ofNullable(params.get("to")).map(v -> instant(v, "to", true)));
        limit = params.containsKey("limit") ? Integer.parseInt(params.get("limit")) : DEFAULT_RECORDS;
        if (limit < 0 || limit > MAX_RECORDS) throw new NumberFormatException();
      } catch (NumberFormatException e) {
        return invalid("'limit' must be a whole number from 0 to " + MAX_RECORDS, "limit");
      } catch (IllegalArgumentException e) {
        return invalid(e.getMessage(), null);
      }
      boolean csvOnly = accept.filter(a -> a.contains("text/csv") && !a.contains("application/json")).isPresent();
      String format = params.getOrDefault("format", csvOnly ? "csv" : "json");
      if (!format.equals("csv") && !format.equals("json")) return invalid("'format' must be json or csv", "format");
      CompletableFuture<Void> flushed = writer.flush().toCompletableFuture().thenApply(d -> null);
      if (format.equals("csv")) return onSuccess(flushed, v -> csv(filter));
      return onSuccess(flushed.thenApplyAsync(v -> {
        try {
          return usageJson(filter, store.summary(filter), store.records(filter, limit + 1), limit);
        } catch (Exception e) {
          throw new IllegalStateException("usage query failed", e);
        }
      }, blocking), root -> json(StatusCodes.OK, root));
    }));
  }

  private Route csv(UsageFilter filter) {
    var source = StreamConverters.asOutputStream().mapMaterializedValue(out -> {
      blocking.execute(() -> {
        try (OutputStream o = out) {
          store.exportCsv(filter, o);
        } catch (Exception e) {
          org.slf4j.LoggerFactory.getLogger(AdminApi.class).warn("usage CSV export failed: {}", e.toString());
        }
      });
      return org.apache.pekko.NotUsed.getInstance();
    });
    return complete(HttpResponse.create().withEntity(HttpEntities.createChunked(
        ContentTypes.create(org.apache.pekko.http.javadsl.model.MediaTypes.TEXT_CSV, org.apache.pekko.http.javadsl.model.HttpCharsets.UTF_8),
        source)));
  }

  private static ObjectNode usageJson(UsageFilter filter, UsageSummary summary, List<UsageRecord> records, int limit) {
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
    records.stream().limit(limit).forEach(r -> data.add(recordJson(r)));
    root.put("has_more", records.size() > limit);
    return root;
  }

  private static ObjectNode recordJson(UsageRecord r) {
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
    n.put("started_at", r.startedAt().toString());
    return n;
  }

  /** An ISO-8601 instant, or a date meaning its midnight UTC ({@code to}: the next midnight, so the day is included). */
  private static Instant instant(String value, String field, boolean endOfDay) {
    try {
      return Instant.parse(value);
    } catch (DateTimeParseException e) {
      try {
        LocalDate d = LocalDate.parse(value);
        return (endOfDay ? d.plusDays(1) : d).atStartOfDay(ZoneOffset.UTC).toInstant();
      } catch (DateTimeParseException e2) {
        throw new IllegalArgumentException("'" + field + "' must be an ISO-8601 instant (2026-11-01T00:00:00Z) or a date (2026-11-01)");
      }
    }
  }

  // ---------------------------------------------------------------- rendering

  private Route userReply(UserReply reply, StatusCode ok) {
    if (reply instanceof UserReply.Done d) return json(ok, userJson(d.user()));
    return refused((UserReply.Refused) reply);
  }

  static ObjectNode userJson(UserView u) {
    ObjectNode n = OpenAiJson.MAPPER.createObjectNode();
    n.put("id", u.id());
    n.put("object", "user");
    u.groups().forEach(n.putArray("groups")::add);
    n.put("created_at", u.createdAt().toString());
    n.put("source", u.source());
    n.set("limits", LimitsJson.toJson(u.limits()));
    n.set("effective_limits", LimitsJson.toJson(u.effective()));
    ArrayNode keys = n.putArray("keys");
    u.keys().forEach(k -> keys.add(keyJson(k)));
    ObjectNode usage = n.putObject("usage");
    usage.set("requests", OpenAiJson.MAPPER.valueToTree(u.requests()));
    usage.set("tokens", OpenAiJson.MAPPER.valueToTree(u.tokens()));
    usage.put("in_flight", u.inFlight());
    return n;
  }

  static ObjectNode keyJson(KeyView k) {
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

  private static Route refused(UserReply.Refused r) {
    StatusCode status = switch (r.code()) {
      case "user_not_found", "key_not_found" -> StatusCodes.NOT_FOUND;
      case "user_exists", "key_exists" -> StatusCodes.CONFLICT;
      default -> StatusCodes.BAD_REQUEST;
    };
    return complete(OpenAiErrors.response(status, OpenAiErrors.INVALID_REQUEST, r.code(), null, r.message(), List.of()));
  }

  /** The body as a JSON object with only the given fields. */
  private static Route jsonBody(Set<String> allowed, Function<JsonNode, Route> inner) {
    return entity(Unmarshaller.entityToString(), text -> {
      JsonNode body;
      try {
        body = OpenAiJson.MAPPER.readTree(text);
      } catch (Exception e) {
        return complete(OpenAiErrors.badRequest("We could not parse the JSON body of your request", null, "invalid_json"));
      }
      if (body == null || !body.isObject()) {
        return complete(OpenAiErrors.badRequest("The request body must be a JSON object", null, "invalid_json"));
      }
      for (var it = body.fieldNames(); it.hasNext(); ) {
        String f = it.next();
        if (!allowed.contains(f)) return invalid("Unknown field '" + f + "' (allowed: " + String.join(", ", new java.util.TreeSet<>(allowed)) + ")", f);
      }
      return inner.apply(body);
    });
  }

  private static Route invalid(String message, String param) {
    return complete(OpenAiErrors.badRequest(message, param, "invalid_request"));
  }

  private static Route notFound(String code, String message) {
    return complete(OpenAiErrors.response(StatusCodes.NOT_FOUND, OpenAiErrors.INVALID_REQUEST, code, null, message, List.of()));
  }

  private static Route json(StatusCode status, JsonNode node) {
    return complete(HttpResponse.create().withStatus(status)
        .withEntity(ContentTypes.APPLICATION_JSON, ByteString.fromString(node.toString())));
  }
}
