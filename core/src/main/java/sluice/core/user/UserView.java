package sluice.core.user;

import java.time.Instant;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import sluice.core.CborSerializable;
import sluice.core.ids.UserId;
import sluice.core.user.UserActor.Key;
import sluice.core.user.UserActor.State;

/**
 * A user as the admin API shows it.
 *
 * @param source    how the user came to be: admin, config or oidc
 * @param limits    the user's own overrides (set through the admin API)
 * @param effective the limits that apply: the group defaults with the overrides on top
 * @param requests  requests counted in the current window, per window label (minute, hour, day, month)
 * @param tokens    tokens counted (settled plus reserved) in the current window, per window label
 * @param inFlight  requests admitted and not yet settled
 */
public record UserView(String id, List<String> groups, Instant createdAt, String source, UserLimits limits,
                       UserLimits effective, List<KeyView> keys, Map<String, Long> requests, Map<String, Long> tokens,
                       int inFlight) implements CborSerializable {
  public UserView {
    groups = List.copyOf(groups);
    keys = List.copyOf(keys);
    requests = Map.copyOf(requests);
    tokens = Map.copyOf(tokens);
  }

  /** The admin API's view of a user: keys oldest first, usage from its quota engine. */
  static UserView of(UserId id, State s, UserLimits effective, Quotas.Usage usage) {
    List<KeyView> keys = s.keys().values().stream()
        .sorted(Comparator.comparing(Key::createdAt).thenComparing(Key::id))
        .map(Key::view).toList();
    return new UserView(id.value(), s.groups(), s.createdAt(), s.source(), s.limits(), effective, keys,
        usage.requests(), usage.tokens(), usage.inFlight());
  }
}
