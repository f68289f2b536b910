package sluice.core.user;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigObject;
import com.typesafe.config.ConfigRenderOptions;
import com.typesafe.config.ConfigValue;
import com.typesafe.config.ConfigValueType;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import sluice.core.ids.GroupName;

/**
 * {@code sluice.users}: the limits by group and the user actors' timings, read once at start-up.
 *
 * @param defaultLimits      limits of a user in none of {@code groups}
 * @param groups             in order: a user gets the limits of the first entry that is one of its groups
 * @param defaultMaxTokens   completion tokens reserved for a request that sets no max_tokens
 * @param reservationTimeout an admitted request not settled within this stops counting as in flight
 * @param checkpointInterval how often changed counters are persisted
 * @param idleTimeout        a user actor with nothing in flight and no command for this long passivates
 * @param readJournal        the read journal plugin id the key index replays and follows
 * @param countersStore      the durable state store plugin id that holds each user's counters (one object per user)
 */
public record UserSettings(UserLimits defaultLimits, List<Group> groups, long defaultMaxTokens, Duration reservationTimeout,
                           Duration checkpointInterval, Duration idleTimeout, String readJournal, String countersStore) {
  private static final JsonMapper JSON = new JsonMapper();
  private static final Set<String> GROUP_FIELDS = Set.of("name", "limits");

  /** The default limits of the users in group {@code name}. */
  public record Group(GroupName name, UserLimits limits) {
    public Group {
      if (name == null) throw new IllegalArgumentException("a group needs a name");
      limits = limits == null ? UserLimits.NONE : limits;
    }
  }

  public UserSettings {
    defaultLimits = defaultLimits == null ? UserLimits.NONE : defaultLimits;
    groups = List.copyOf(groups);
    if (defaultMaxTokens < 1) throw new IllegalArgumentException("default-max-tokens must be >= 1");
    for (Duration d : List.of(reservationTimeout, checkpointInterval, idleTimeout)) {
      if (d.isNegative() || d.isZero()) throw new IllegalArgumentException("durations must be positive");
    }
    if (countersStore == null || countersStore.isBlank()) throw new IllegalArgumentException("counters-store must name a plugin");
  }

  /** The limits of a user in {@code userGroups}: those of the first configured group it is in, else the defaults. */
  public UserLimits limitsFor(List<String> userGroups) {
    for (Group g : groups) if (userGroups.contains(g.name().value())) return g.limits();
    return defaultLimits;
  }

  public static UserSettings from(Config root) {
    String base = "sluice.users";
    Config c = root.getConfig(base);
    UserLimits defaults = limits(c.getValue("default-limits"), base + ".default-limits");
    List<Group> groups = new ArrayList<>();
    Set<String> names = new HashSet<>();
    List<? extends ConfigValue> entries = c.getList("groups");
    for (int i = 0; i < entries.size(); i++) {
      String path = base + ".groups[" + i + "]";
      ConfigValue v = entries.get(i);
      if (v.valueType() != ConfigValueType.OBJECT) {
        throw new ConfigException.WrongType(v.origin(), path, "object", v.valueType().name());
      }
      ConfigObject o = (ConfigObject) v;
      for (String k : o.keySet()) {
        if (!GROUP_FIELDS.contains(k)) throw new ConfigException.BadValue(v.origin(), path + "." + k, "unknown field (name or limits)");
      }
      if (o.get("name") == null || o.get("name").valueType() != ConfigValueType.STRING) {
        throw new ConfigException.BadValue(v.origin(), path + ".name", "every group needs a name");
      }
      String name = (String) o.get("name").unwrapped();
      if (!GroupName.isValid(name)) throw new ConfigException.BadValue(v.origin(), path + ".name", "group names are " + GroupName.RULE);
      if (!names.add(name)) throw new ConfigException.BadValue(v.origin(), path + ".name", "group '" + name + "' is listed twice");
      groups.add(new Group(GroupName.of(name), o.get("limits") == null ? UserLimits.NONE : limits(o.get("limits"), path + ".limits")));
    }
    long maxTokens = c.getLong("default-max-tokens");
    if (maxTokens < 1) throw new ConfigException.BadValue(c.origin(), base + ".default-max-tokens", "must be >= 1");
    String journal = c.getString("read-journal");
    if (journal.isBlank()) throw new ConfigException.BadValue(c.origin(), base + ".read-journal", "must name a read journal");
    String countersStore = c.getString("counters-store");
    if (countersStore.isBlank()) {
      throw new ConfigException.BadValue(c.origin(), base + ".counters-store", "must name a durable state store plugin");
    }
    return new UserSettings(defaults, groups, maxTokens, positive(c, "reservation-timeout"), positive(c, "checkpoint-interval"),
        positive(c, "idle-timeout"), journal, countersStore);
  }

  private static UserLimits limits(ConfigValue value, String path) {
    try {
      JsonNode json = JSON.readTree(value.render(ConfigRenderOptions.concise()));
      return LimitsJson.userLimits(json, path);
    } catch (IllegalArgumentException | JsonProcessingException e) {
      throw new ConfigException.BadValue(value.origin(), path, e.getMessage());
    }
  }

  private static Duration positive(Config c, String key) {
    Duration d = c.getDuration(key);
    if (d.isNegative() || d.isZero()) throw new ConfigException.BadValue(c.origin(), "sluice.users." + key, "must be positive");
    return d;
  }
}
