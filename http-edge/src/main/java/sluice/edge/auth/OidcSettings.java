package sluice.edge.auth;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.net.URI;
import java.net.URISyntaxException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;
import sluice.core.ids.UserId;

/**
 * The OIDC issuers whose JWTs are accepted as bearer tokens, read once from {@code sluice.auth.oidc}. Invalid values
 * fail at start-up with the key's path.
 */
public record OidcSettings(List<Issuer> issuers, Duration clockSkew) {
  private static final Duration MAX_SKEW = Duration.ofMinutes(10);

  public OidcSettings {
    issuers = List.copyOf(issuers);
    if (clockSkew == null || clockSkew.isNegative() || clockSkew.compareTo(MAX_SKEW) > 0) {
      throw new IllegalArgumentException("clock skew must be in [0s, 10m]");
    }
    Set<String> seen = new HashSet<>();
    for (Issuer i : issuers) {
      if (!seen.add(i.issuer())) throw new IllegalArgumentException("issuer listed twice: " + i.issuer());
    }
  }

  /**
   * One trusted issuer. {@code userClaim} and {@code groupClaims} are claim names or dotted paths into nested objects
   * ({@code realm_access.roles}); the user id is {@code userPrefix} + the user claim's value.
   */
  public record Issuer(String issuer, URI jwksUrl, String audience, String userClaim, String userPrefix,
                       List<String> groupClaims, List<String> algorithms) {
    /** Asymmetric algorithms the JDK verifies on its own. HMAC is never accepted: its key would be the public JWKS. */
    public static final Set<String> SUPPORTED_ALGORITHMS =
        Set.of("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512");
    /** The prefix starts a user id, so it must itself be a (short) user id; the whole id is checked per token. */
    private static final int MAX_PREFIX = 64;

    public Issuer {
      require(issuer != null && !issuer.isBlank(), "issuer", "must not be empty");
      require(jwksUrl != null, "jwks-url", "must be set");
      String scheme = jwksUrl.getScheme();
      require(("https".equalsIgnoreCase(scheme) || "http".equalsIgnoreCase(scheme)) && jwksUrl.getHost() != null,
          "jwks-url", "must be an absolute http or https URL with a host");
      require(audience != null && !audience.isBlank(), "audience", "must not be empty");
      require(userClaim != null && isPath(userClaim), "user-claim", "must be a claim name or a dotted path");
      require(userPrefix != null && (userPrefix.isEmpty() || (userPrefix.length() <= MAX_PREFIX && UserId.isValid(userPrefix))),
          "user-prefix", "must be empty or the start of a user id, at most " + MAX_PREFIX + " characters: " + UserId.RULE);
      groupClaims = List.copyOf(groupClaims);
      for (String g : groupClaims) require(isPath(g), "group-claims", "must be claim names or dotted paths");
      algorithms = List.copyOf(algorithms);
      require(!algorithms.isEmpty(), "algorithms", "must name at least one algorithm");
      for (String a : algorithms) {
        require(!"none".equalsIgnoreCase(a), "algorithms", "\"none\" would accept unsigned tokens");
        require(!a.toUpperCase(Locale.ROOT).startsWith("HS"), "algorithms",
            a + " is an HMAC algorithm, whose secret would be the issuer's public key");
        require(SUPPORTED_ALGORITHMS.contains(a), "algorithms",
            "unknown algorithm " + a + "; supported: " + String.join(", ", SUPPORTED_ALGORITHMS.stream().sorted().toList()));
      }
    }

    private static boolean isPath(String p) {
      if (p.isBlank()) return false;
      for (String part : p.split("\\.", -1)) if (part.isBlank()) return false;
      return true;
    }
  }

  /** Reads {@code sluice.auth.oidc}. */
  public static OidcSettings from(Config root) {
    String base = "sluice.auth.oidc";
    Config c = root.getConfig(base);
    Duration skew = c.getDuration("clock-skew");
    if (skew.isNegative() || skew.compareTo(MAX_SKEW) > 0) {
      throw new ConfigException.BadValue(base + ".clock-skew", "must be in [0s, 10m]");
    }
    List<? extends Config> list = c.getConfigList("issuers");
    List<Issuer> issuers = new ArrayList<>();
    Set<String> seen = new HashSet<>();
    for (int n = 0; n < list.size(); n++) {
      Config i = list.get(n);
      String where = base + ".issuers[" + n + "]";
      try {
        Issuer issuer = new Issuer(
            string(i, where, "issuer", null),
            uri(i, where),
            string(i, where, "audience", null),
            string(i, where, "user-claim", "sub"),
            string(i, where, "user-prefix", ""),
            strings(i, where, "group-claims", List.of()),
            strings(i, where, "algorithms", List.of("RS256", "ES256")));
        if (!seen.add(issuer.issuer())) throw new ConfigException.BadValue(where + ".issuer", "issuer listed twice");
        issuers.add(issuer);
      } catch (InvalidField e) {
        throw new ConfigException.BadValue(where + "." + e.key, e.reason);
      }
    }
    return new OidcSettings(issuers, skew);
  }

  private static String string(Config c, String where, String key, String fallback) {
    if (!c.hasPath(key)) {
      if (fallback == null) throw new ConfigException.Missing(where + "." + key);
      return fallback;
    }
    try {
      return c.getString(key);
    } catch (ConfigException.WrongType e) {
      throw new ConfigException.WrongType(c.origin(), where + "." + key, "string", c.getValue(key).valueType().name());
    }
  }

  private static List<String> strings(Config c, String where, String key, List<String> fallback) {
    if (!c.hasPath(key)) return fallback;
    try {
      return c.getStringList(key);
    } catch (ConfigException.WrongType e) {
      throw new ConfigException.WrongType(c.origin(), where + "." + key, "list of strings", c.getValue(key).valueType().name());
    }
  }

  private static URI uri(Config c, String where) {
    String raw = string(c, where, "jwks-url", null);
    try {
      return new URI(raw);
    } catch (URISyntaxException e) {
      throw new ConfigException.BadValue(where + ".jwks-url", "not a URL: " + e.getReason());
    }
  }

  private static void require(boolean ok, String key, String message) {
    if (!ok) throw new InvalidField(key, message);
  }

  /** Names the offending field, so {@link #from} can report the full config path. */
  private static final class InvalidField extends IllegalArgumentException {
    final String key;
    final String reason;

    InvalidField(String key, String reason) {
      super(key + ": " + reason);
      this.key = key;
      this.reason = reason;
    }
  }
}
