package sluice.core.user;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import sluice.core.ids.ServiceId;

/**
 * The one reader and writer of limits, for the config ({@code sluice.users}, rendered to JSON) and the admin API:
 * <pre>{"requests":{"minute":60,"hour":1000},"tokens":{"day":2000000},"concurrent":4,"models":{"big-model":{...}}}</pre>
 * Every entry is optional; null means not set. Anything else fails with a message naming the field, for a 400 or a
 * start-up error.
 */
public final class LimitsJson {
  private static final Set<String> SCOPE_FIELDS = Set.of("requests", "tokens", "concurrent");
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  private LimitsJson() {}

  /** A user's limits (with per-model entries); errors name fields under {@code limits}. */
  public static UserLimits userLimits(JsonNode node) { return userLimits(node, "limits"); }

  /** A user's limits; errors name fields under {@code path}. */
  public static UserLimits userLimits(JsonNode node, String path) {
    if (absent(node)) return UserLimits.NONE;
    object(node, path);
    Map<String, Limits> models = new HashMap<>();
    JsonNode m = node.get("models");
    if (!absent(m)) {
      object(m, path + ".models");
      for (Map.Entry<String, JsonNode> e : m.properties()) {
        String at = path + ".models." + e.getKey();
        if (!ServiceId.isValid(e.getKey())) throw new IllegalArgumentException(at + ": invalid model id");
        models.put(e.getKey(), scope(e.getValue(), at, false));
      }
    }
    return new UserLimits(scope(node, path, true), models);
  }

  /** One scope's limits, as a key has them (no per-model entries); errors name fields under {@code limits}. */
  public static Limits limits(JsonNode node) { return limits(node, "limits"); }

  /** One scope's limits; errors name fields under {@code path}. */
  public static Limits limits(JsonNode node, String path) { return scope(node, path, false); }

  public static ObjectNode toJson(UserLimits limits) {
    ObjectNode o = toJson(limits.user());
    if (!limits.models().isEmpty()) {
      ObjectNode m = o.putObject("models");
      new TreeMap<>(limits.models()).forEach((model, l) -> m.set(model, toJson(l)));
    }
    return o;
  }

  public static ObjectNode toJson(Limits limits) {
    ObjectNode o = NODES.objectNode();
    if (!limits.requests().isEmpty()) o.set("requests", windows(limits.requests()));
    if (!limits.tokens().isEmpty()) o.set("tokens", windows(limits.tokens()));
    if (limits.concurrent() != null) o.put("concurrent", limits.concurrent());
    return o;
  }

  private static ObjectNode windows(Map<Window, Long> values) {
    ObjectNode o = NODES.objectNode();
    for (Window w : Window.values()) if (values.containsKey(w)) o.put(w.label(), values.get(w));
    return o;
  }

  private static Limits scope(JsonNode node, String path, boolean modelsAllowed) {
    if (absent(node)) return Limits.NONE;
    object(node, path);
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      String field = e.getKey();
      if (SCOPE_FIELDS.contains(field) || (modelsAllowed && field.equals("models"))) continue;
      if (field.equals("models")) {
        throw new IllegalArgumentException(path + ".models: not allowed here (per-model limits belong to a user)");
      }
      throw new IllegalArgumentException(path + "." + field + ": unknown field ("
          + (modelsAllowed ? "requests, tokens, concurrent or models)" : "requests, tokens or concurrent)"));
    }
    Long concurrent = number(node.get("concurrent"), path + ".concurrent", Integer.MAX_VALUE);
    return new Limits(windows(node.get("requests"), path + ".requests"), windows(node.get("tokens"), path + ".tokens"),
        concurrent == null ? null : concurrent.intValue());
  }

  private static Map<Window, Long> windows(JsonNode node, String path) {
    Map<Window, Long> out = new EnumMap<>(Window.class);
    if (absent(node)) return out;
    object(node, path);
    for (Map.Entry<String, JsonNode> e : node.properties()) {
      String at = path + "." + e.getKey();
      Window w = window(e.getKey(), at);
      Long v = number(e.getValue(), at, Long.MAX_VALUE);
      if (v != null) out.put(w, v);
    }
    return out;
  }

  private static Window window(String label, String path) {
    for (Window w : Window.values()) if (w.label().equals(label)) return w;
    throw new IllegalArgumentException(path + ": unknown window (minute, hour, day or month)");
  }

  private static Long number(JsonNode node, String path, long max) {
    if (absent(node)) return null;
    if (!node.isIntegralNumber() || !node.canConvertToLong() || node.asLong() < 0 || node.asLong() > max) {
      throw new IllegalArgumentException(path + ": must be an integer from 0 to " + max + " (got " + node + ")");
    }
    return node.asLong();
  }

  private static void object(JsonNode node, String path) {
    if (!node.isObject()) throw new IllegalArgumentException(path + ": must be an object (got " + node + ")");
  }

  private static boolean absent(JsonNode node) { return node == null || node.isNull() || node.isMissingNode(); }
}
