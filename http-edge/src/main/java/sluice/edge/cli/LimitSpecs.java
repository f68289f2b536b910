package sluice.edge.cli;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectReader;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Map;
import sluice.core.ids.ServiceId;
import sluice.core.user.Window;
import sluice.edge.http.OpenAiJson;

/**
 * The admin API's LIMITS object, built from {@code --limits JSON} and {@code --limit SPEC} options (the specs on top):
 * {@code {"requests":{"minute":60},"tokens":{"day":100000},"concurrent":4,"models":{"m1":{"requests":{"minute":5}}}}}.
 */
final class LimitSpecs {
  private static final ObjectReader STRICT = OpenAiJson.MAPPER.reader()
      .with(JsonParser.Feature.STRICT_DUPLICATE_DETECTION)
      .with(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
  /** Above this a typo is likelier than a limit. */
  private static final int MAX_DIGITS = 15;

  private LimitSpecs() {}

  /**
   * One {@code --limit}: {@code requests.minute=60}, {@code tokens.day=100000}, {@code concurrent=4}, or any of them
   * after {@code model:NAME:} for one model.
   *
   * @param model  null for the limit across all models
   * @param kind   requests, tokens or concurrent
   * @param window null for concurrent
   */
  record Setting(ServiceId model, String kind, Window window, long value) {
    static Setting parse(String spec) {
      String rest = spec;
      ServiceId model = null;
      if (rest.startsWith("model:")) {
        int end = rest.indexOf(':', "model:".length());
        if (end < 0) throw bad(spec, "expected model:NAME:requests.minute=5");
        model = ServiceId.of(rest.substring("model:".length(), end));
        rest = rest.substring(end + 1);
      }
      int eq = rest.indexOf('=');
      if (eq < 0) throw bad(spec, "expected NAME=NUMBER, e.g. requests.minute=60");
      String name = rest.substring(0, eq);
      long value = number(spec, rest.substring(eq + 1));
      if (name.equals("concurrent")) {
        if (value > Integer.MAX_VALUE) throw bad(spec, "concurrent is too large");
        return new Setting(model, "concurrent", null, value);
      }
      int dot = name.indexOf('.');
      String kind = dot < 0 ? name : name.substring(0, dot);
      if (!kind.equals("requests") && !kind.equals("tokens")) {
        throw bad(spec, "unknown limit '" + name + "' (requests.WINDOW, tokens.WINDOW or concurrent)");
      }
      if (dot < 0) throw bad(spec, "name the window: " + kind + ".minute, .hour, .day or .month");
      try {
        return new Setting(model, kind, Window.fromLabel(name.substring(dot + 1)), value);
      } catch (IllegalArgumentException e) {
        throw bad(spec, e.getMessage());
      }
    }

    void applyTo(ObjectNode limits) {
      ObjectNode scope = model == null ? limits : child(child(limits, "models"), model.value());
      if (window == null) scope.put(kind, (int) value);
      else child(scope, kind).put(window.label(), value);
    }

    private static long number(String spec, String text) {
      if (text.isEmpty() || text.length() > MAX_DIGITS || !text.chars().allMatch(c -> c >= '0' && c <= '9')) {
        throw bad(spec, "the limit must be a whole number >= 0 (at most " + MAX_DIGITS + " digits)");
      }
      return Long.parseLong(text);
    }

    private static IllegalArgumentException bad(String spec, String why) {
      return new IllegalArgumentException("invalid limit '" + spec + "': " + why);
    }
  }

  /**
   * The LIMITS to send: {@code json} (checked) with the settings on top, or null when neither is given.
   *
   * @param perModel whether per-model limits are allowed (a user's, not a key's)
   */
  static ObjectNode build(String json, List<Setting> settings, boolean perModel) {
    if (json == null && settings.isEmpty()) return null;
    ObjectNode limits = json == null ? OpenAiJson.MAPPER.createObjectNode() : parse(json, perModel);
    for (Setting s : settings) {
      if (s.model() != null && !perModel) {
        throw new IllegalArgumentException("per-model limits (model:NAME:...) apply to users only; --model restricts a key "
            + "to some models");
      }
      s.applyTo(limits);
    }
    return limits;
  }

  /** Parses and checks a LIMITS object, so that a typo is reported here rather than by the gateway. */
  static ObjectNode parse(String json, boolean perModel) {
    JsonNode node;
    try {
      node = STRICT.readTree(json);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("--limits is not valid JSON: " + e.getOriginalMessage());
    }
    if (node == null || !node.isObject()) throw new IllegalArgumentException("--limits must be a JSON object");
    check((ObjectNode) node, perModel, "limits");
    return (ObjectNode) node;
  }

  private static void check(ObjectNode limits, boolean perModel, String where) {
    for (Map.Entry<String, JsonNode> e : limits.properties()) {
      String at = where + "." + e.getKey();
      JsonNode v = e.getValue();
      switch (e.getKey()) {
        case "requests", "tokens" -> {
          if (!v.isObject()) throw new IllegalArgumentException(at + " must be an object of windows, e.g. {\"minute\": 60}");
          for (Map.Entry<String, JsonNode> window : v.properties()) {
            try {
              Window.fromLabel(window.getKey());
            } catch (IllegalArgumentException bad) {
              throw new IllegalArgumentException(at + ": " + bad.getMessage());
            }
            wholeNumber(window.getValue(), at + "." + window.getKey(), Long.MAX_VALUE);
          }
        }
        case "concurrent" -> wholeNumber(v, at, Integer.MAX_VALUE);
        case "models" -> {
          if (!perModel) {
            throw new IllegalArgumentException(at + (where.equals("limits") ? ": per-model limits apply to users only"
                : ": a model's limits cannot have models"));
          }
          if (!v.isObject()) throw new IllegalArgumentException(at + " must be an object of model names");
          for (Map.Entry<String, JsonNode> model : v.properties()) {
            ServiceId.of(model.getKey());
            if (!model.getValue().isObject()) throw new IllegalArgumentException(at + "." + model.getKey() + " must be an object");
            check((ObjectNode) model.getValue(), false, at + "." + model.getKey());
          }
        }
        default -> throw new IllegalArgumentException(at + ": unknown field (requests, tokens, concurrent"
            + (perModel ? ", models" : "") + ")");
      }
    }
  }

  private static void wholeNumber(JsonNode v, String at, long max) {
    if (!v.isIntegralNumber() || !v.canConvertToLong() || v.asLong() < 0 || v.asLong() > max) {
      throw new IllegalArgumentException(at + " must be a whole number >= 0");
    }
  }

  private static ObjectNode child(ObjectNode parent, String field) {
    return parent.get(field) instanceof ObjectNode o ? o : parent.putObject(field);
  }
}
