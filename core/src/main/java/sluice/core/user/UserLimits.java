package sluice.core.user;

import java.util.HashMap;
import java.util.Map;
import sluice.core.CborSerializable;

/**
 * A user's limits: across all models ({@code user}) and per model ({@code models}, counted separately for each model).
 * As an override (set through the admin API) it replaces, entry by entry, the defaults of the user's group.
 */
public record UserLimits(Limits user, Map<String, Limits> models) implements CborSerializable {
  public static final UserLimits NONE = new UserLimits(Limits.NONE, Map.of());

  public UserLimits {
    user = user == null ? Limits.NONE : user;
    models = models == null ? Map.of() : Map.copyOf(models);
  }

  /** The group defaults ({@code this}) with {@code over}'s entries on top, per scope. */
  public UserLimits overriddenBy(UserLimits over) {
    if (over == null) return this;
    Map<String, Limits> m = new HashMap<>(models);
    over.models.forEach((model, l) -> m.merge(model, l, Limits::overriddenBy));
    return new UserLimits(user.overriddenBy(over.user), m);
  }

  public Limits forModel(String model) { return models.getOrDefault(model, Limits.NONE); }
}
