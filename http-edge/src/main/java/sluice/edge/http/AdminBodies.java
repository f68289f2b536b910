package sluice.edge.http;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonProperty;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.PropertyNamingStrategies;
import com.fasterxml.jackson.databind.cfg.CoercionAction;
import com.fasterxml.jackson.databind.cfg.CoercionInputShape;
import com.fasterxml.jackson.databind.exc.MismatchedInputException;
import com.fasterxml.jackson.databind.exc.UnrecognizedPropertyException;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.type.LogicalType;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.user.Limits;
import sluice.core.user.LimitsJson;
import sluice.core.user.UserLimits;
import sluice.edge.TimeBound;

/**
 * The JSON bodies of the admin API's writes, bound by Jackson onto records that check themselves when they are made,
 * so a handler only ever sees a valid body. {@link #bind} turns every way a body can be wrong into one
 * {@link ApiError}: not JSON or not an object ({@code invalid_json}), an unknown field, a value of the wrong type, a
 * value its type refuses.
 */
final class AdminBodies {
  private AdminBodies() {}

  /**
   * Strict where leniency would hide a mistake: unknown fields, numbers as strings and back, fractions as integers, a
   * field given twice (which one counts depends on the reader), data after the body.
   */
  private static final ObjectMapper MAPPER = JsonMapper.builder()
      .propertyNamingStrategy(PropertyNamingStrategies.SNAKE_CASE)
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .disable(DeserializationFeature.ACCEPT_FLOAT_AS_INT)
      .withCoercionConfig(LogicalType.Integer, c -> c.setCoercion(CoercionInputShape.String, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.Float, CoercionAction.Fail).setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
      .withCoercionConfig(LogicalType.Textual, c -> c.setCoercion(CoercionInputShape.Integer, CoercionAction.Fail)
          .setCoercion(CoercionInputShape.Float, CoercionAction.Fail).setCoercion(CoercionInputShape.Boolean, CoercionAction.Fail))
      .build();

  /** A body that names one of its fields wrongly; {@code field} may be null when no single field is at fault. */
  static final class Invalid extends IllegalArgumentException {
    private static final long serialVersionUID = 1L;
    private final transient String field;

    Invalid(String field, String message) {
      super(message);
      this.field = field;
    }

    /** The field at fault, or null. */
    String field() { return field; }
  }

  /** {@code POST /admin/users}: a new user with its groups and limit overrides. */
  record NewUser(UserId id, List<GroupName> groups, UserLimits limits) {
    @JsonCreator static NewUser of(@JsonProperty("id") UserId id, @JsonProperty("groups") JsonNode groups,
                                   @JsonProperty("limits") JsonNode limits) {
      if (id == null) throw new Invalid("id", "'id' is required: " + UserId.RULE);
      return new NewUser(id, groups == null ? List.of() : groupList(groups), present(limits) ? LimitsJson.userLimits(limits)
          : UserLimits.NONE);
    }
  }

  /** {@code PATCH /admin/users/{id}}: the fields present replace the user's; {@code "limits": null} clears overrides. */
  record UserChange(Optional<List<GroupName>> groups, Optional<UserLimits> limits) {
    @JsonCreator static UserChange of(@JsonProperty("groups") JsonNode groups, @JsonProperty("limits") JsonNode limits) {
      Optional<UserLimits> l = limits == null ? Optional.empty()
          : Optional.of(limits.isNull() ? UserLimits.NONE : LimitsJson.userLimits(limits));
      if (groups == null && l.isEmpty()) throw new Invalid(null, "Nothing to change: send 'groups' and/or 'limits'");
      return new UserChange(Optional.ofNullable(groups).map(AdminBodies::groupList), l);
    }
  }

  /** {@code POST /admin/users/{id}/keys}: a new key's name, expiry, models and limits (all optional). */
  record NewKey(KeyName name, Optional<Instant> expiresAt, List<ServiceId> models, Limits limits) {
    @JsonCreator static NewKey of(@JsonProperty("name") KeyName name, @JsonProperty("expires_at") String expiresAt,
                                  @JsonProperty("models") List<ServiceId> models,
                                  @JsonProperty("limits") JsonNode limits) {
      Optional<Instant> expiry = Optional.ofNullable(expiresAt).map(t -> time("expires_at", t).start());
      return new NewKey(name == null ? KeyName.NONE : name, expiry, models == null ? List.of() : distinct(models),
          present(limits) ? LimitsJson.limits(limits) : Limits.NONE);
    }
  }

  /** {@code POST /admin/services/{id}/scale}: the operator's replica bounds. */
  record Scale(int min, int max) {
    @JsonCreator static Scale of(@JsonProperty("min") Integer min, @JsonProperty("max") Integer max) {
      if (min == null) throw new Invalid("min", "'min' must be a whole number");
      if (max == null) throw new Invalid("max", "'max' must be a whole number");
      return new Scale(min, max);
    }
  }

  /**
   * The body as a {@code type}, or an {@link ApiException}. {@code kind} is the error for a field's value; the error
   * names the field ({@code param}) for an unknown field and for the fields in {@code named}.
   */
  static <T> T bind(String text, Class<T> type, ApiError.Kind kind, Set<String> named) {
    JsonNode tree;
    try {
      tree = MAPPER.readTree(text);
    } catch (JsonProcessingException e) {
      throw new ApiException(BadJson.of(e));
    }
    if (tree == null || !tree.isObject()) {
      throw new ApiException(ApiError.of(ApiError.Kind.INVALID_JSON, "The request body must be a JSON object"));
    }
    try {
      return MAPPER.treeToValue(tree, type);
    } catch (UnrecognizedPropertyException e) {
      String allowed = e.getKnownPropertyIds() == null ? "" : " (allowed: " + names(e.getKnownPropertyIds()) + ")";
      throw new ApiException(ApiError.of(ApiError.Kind.INVALID_REQUEST, "Unknown field '" + e.getPropertyName() + "'" + allowed)
          .withParam(e.getPropertyName()));
    } catch (JsonProcessingException e) {
      String field = field(e);
      Invalid invalid = cause(e, Invalid.class);
      if (invalid != null && invalid.field != null) field = invalid.field;
      IllegalArgumentException refused = cause(e, IllegalArgumentException.class);
      String message = refused != null ? refused.getMessage()
          : e instanceof MismatchedInputException m ? "'" + field + "' must be " + expected(m.getTargetType() == null ? null
              : MAPPER.constructType(m.getTargetType()))
          : "'" + field + "' is not valid";
      ApiError error = ApiError.of(kind, message);
      throw new ApiException(field != null && named.contains(field) ? error.withParam(field) : error);
    }
  }

  /** The top-level field at fault, from the path of Jackson's error. */
  private static String field(JsonMappingException e) {
    return e.getPath().stream().map(JsonMappingException.Reference::getFieldName).filter(f -> f != null).findFirst().orElse(null);
  }

  private static String field(JsonProcessingException e) {
    return e instanceof JsonMappingException m ? field(m) : null;
  }

  private static <X extends Throwable> X cause(Throwable t, Class<X> type) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) if (type.isInstance(c)) return type.cast(c);
    return null;
  }

  private static String expected(JavaType type) {
    if (type == null) return "of another type";
    if (type.isCollectionLikeType()) return "an array";
    Class<?> raw = type.getRawClass();
    if (raw == Integer.class || raw == int.class || raw == Long.class || raw == long.class) return "a whole number";
    if (raw == JsonNode.class) return "an object";
    return "a string";
  }

  private static String names(Collection<Object> ids) {
    return ids.stream().map(String::valueOf).collect(Collectors.toCollection(TreeSet::new)).stream().collect(Collectors.joining(", "));
  }

  /**
   * A {@code groups} field. Bound by hand, not by Jackson: a missing field (keep the groups) and {@code null} (an error,
   * as any other non-array) must differ, which a creator parameter cannot tell.
   */
  private static List<GroupName> groupList(JsonNode node) {
    if (!node.isArray()) throw new Invalid("groups", "'groups' must be an array of group names");
    List<GroupName> out = new ArrayList<>();
    for (JsonNode g : node) {
      if (!g.isTextual()) throw new Invalid("groups", "'groups' entries must be group names (strings)");
      out.add(GroupName.of(g.asText()));
    }
    return distinct(out);
  }

  /** A time field; the error names the field. */
  static TimeBound time(String field, String text) {
    try {
      return TimeBound.parse(text);
    } catch (IllegalArgumentException e) {
      throw new Invalid(field, "'" + field + "': " + e.getMessage());
    }
  }

  private static boolean present(JsonNode node) { return node != null && !node.isNull(); }

  private static <T> List<T> distinct(List<T> values) { return values.stream().distinct().toList(); }
}
