package sluice.edge.http;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.Map;
import java.util.Optional;

/**
 * The API keys configured in {@code sluice.auth.api-keys}. Only SHA-256 digests are kept in memory; a presented key is
 * hashed and looked up, so the hot path makes no database call and no key is ever held or logged in clear.
 */
public final class ApiKeys {
  private final Map<String, String> nameByDigest;

  private ApiKeys(Map<String, String> nameByDigest) { this.nameByDigest = Map.copyOf(nameByDigest); }

  public static ApiKeys from(Config root) {
    Map<String, String> keys = new HashMap<>();
    int i = 0;
    for (Config k : root.getConfigList("sluice.auth.api-keys")) {
      String where = "sluice.auth.api-keys[" + i++ + "]";
      String name = k.getString("name");
      String digest;
      if (k.hasPath("sha256")) {
        digest = k.getString("sha256").toLowerCase(java.util.Locale.ROOT);
        if (!digest.matches("[0-9a-f]{64}")) throw new ConfigException.BadValue(where + ".sha256", "must be 64 hex digits");
      } else if (k.hasPath("key")) {
        String key = k.getString("key");
        if (key.length() < 16) throw new ConfigException.BadValue(where + ".key", "must be at least 16 characters");
        digest = sha256(key);
      } else {
        throw new ConfigException.Missing(where + ".sha256");
      }
      keys.put(digest, name);
    }
    return new ApiKeys(keys);
  }

  /** The key's name, if the presented secret is one of the configured keys. */
  public Optional<String> lookup(String presented) {
    return Optional.ofNullable(nameByDigest.get(sha256(presented)));
  }

  public int size() { return nameByDigest.size(); }

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
