package sluice.edge.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import sluice.core.ids.GroupName;
import sluice.core.ids.UserId;

/**
 * The API keys configured in {@code sluice.auth.api-keys} (keys made through the admin API live in the user actors).
 * Only SHA-256 digests are kept in memory; a presented key is hashed and looked up, so the hot path makes no database
 * call and no key is ever held or logged in clear. SHA-256 without salt is enough here because keys are long random
 * strings, not passwords: there is nothing to guess from a digest.
 */
public final class ApiKeys {
  /** A configured key: its name (in usage records as {@code config:<name>}), the user it acts as, and its groups. */
  public record ConfigKey(String name, UserId user, List<GroupName> groups) {
    public ConfigKey {
      groups = List.copyOf(groups);
    }
  }

  private final Map<String, ConfigKey> byDigest;

  private ApiKeys(Map<String, ConfigKey> byDigest) { this.byDigest = Map.copyOf(byDigest); }

  public static ApiKeys from(Config root) {
    Map<String, ConfigKey> keys = new HashMap<>();
    int i = 0;
    for (Config k : root.getConfigList("sluice.auth.api-keys")) {
      String where = "sluice.auth.api-keys[" + i++ + "]";
      String name = k.getString("name");
      String user = k.hasPath("user") ? k.getString("user") : name;
      if (!UserId.isValid(user)) {
        throw new ConfigException.BadValue(where + (k.hasPath("user") ? ".user" : ".name"), "must be a user id: " + UserId.RULE);
      }
      List<GroupName> groups = new ArrayList<>();
      for (String g : k.hasPath("groups") ? k.getStringList("groups") : List.<String>of()) {
        if (!GroupName.isValid(g)) throw new ConfigException.BadValue(where + ".groups", "group names are " + GroupName.RULE);
        groups.add(GroupName.of(g));
      }
      String digest;
      if (k.hasPath("sha256")) {
        digest = k.getString("sha256").toLowerCase(Locale.ROOT);
        if (!digest.matches("[0-9a-f]{64}")) throw new ConfigException.BadValue(where + ".sha256", "must be 64 hex digits");
      } else if (k.hasPath("key")) {
        String key = k.getString("key");
        if (key.length() < 16) throw new ConfigException.BadValue(where + ".key", "must be at least 16 characters");
        digest = sha256(key);
      } else {
        throw new ConfigException.Missing(where + ".sha256");
      }
      if (keys.put(digest, new ConfigKey(name, UserId.of(user), groups)) != null) {
        throw new ConfigException.BadValue(where, "the same key is configured twice");
      }
    }
    return new ApiKeys(keys);
  }

  /** The configured key whose digest this is. */
  public Optional<ConfigKey> byDigest(String digest) {
    return Optional.ofNullable(byDigest.get(digest));
  }

  public int size() { return byDigest.size(); }

  public static String sha256(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 missing from the JDK", e);
    }
  }

  /** Compares two secrets in time independent of where they differ. */
  public static boolean sameSecret(String a, String b) {
    return MessageDigest.isEqual(sha256(a).getBytes(StandardCharsets.US_ASCII), sha256(b).getBytes(StandardCharsets.US_ASCII));
  }
}
