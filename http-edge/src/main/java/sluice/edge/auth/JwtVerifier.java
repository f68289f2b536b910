package sluice.edge.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JOSEObjectType;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.KeySourceException;
import com.nimbusds.jose.jwk.source.JWKSource;
import com.nimbusds.jose.jwk.source.JWKSourceBuilder;
import com.nimbusds.jose.jwk.source.RateLimitReachedException;
import com.nimbusds.jose.proc.BadJOSEException;
import com.nimbusds.jose.proc.BadJWSException;
import com.nimbusds.jose.proc.DefaultJOSEObjectTypeVerifier;
import com.nimbusds.jose.proc.JWSVerificationKeySelector;
import com.nimbusds.jose.proc.SecurityContext;
import com.nimbusds.jose.util.Base64URL;
import com.nimbusds.jose.util.JSONObjectUtils;
import com.nimbusds.jose.util.health.HealthStatus;
import com.nimbusds.jwt.JWT;
import com.nimbusds.jwt.JWTClaimNames;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.JWTParser;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import com.nimbusds.jwt.proc.BadJWTException;
import com.nimbusds.jwt.proc.DefaultJWTClaimsVerifier;
import com.nimbusds.jwt.proc.DefaultJWTProcessor;
import com.nimbusds.jwt.proc.JWTClaimsSetVerifier;
import java.net.MalformedURLException;
import java.text.ParseException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.ids.GroupName;
import sluice.core.ids.UserId;

/**
 * Verifies bearer JWTs from the issuers in {@link OidcSettings}: signature against the issuer's JWKS, exact issuer,
 * audience, expiry and not-before (with the configured clock skew), then maps claims to a user id and groups.
 *
 * <p>The JWKS is fetched on first use, so {@link #verify} may block on the network; call it off the request dispatcher.
 * nimbus caches each JWKS, refreshes it ahead of expiry, fetches again on an unknown key id (key rotation) at most
 * twice per 30 s, and keeps using the cached keys while the issuer is unreachable. Thread-safe.
 */
public final class JwtVerifier {
  private static final Logger log = LoggerFactory.getLogger(JwtVerifier.class);
  private static final Pattern BASE64URL = Pattern.compile("[A-Za-z0-9_-]*");
  // Pekko's default header limit is far below this; the cap only bounds the parsing work for a hostile caller.
  private static final int MAX_TOKEN_CHARS = 16 * 1024;

  /** The outcome of {@link #verify}. */
  public sealed interface Result {
    /** A valid token: who it names, the groups it carries and until when it is good. */
    record Verified(UserId userId, List<GroupName> groups, String issuer, Instant expiresAt) implements Result {
      public Verified {
        Objects.requireNonNull(userId, "userId");
        Objects.requireNonNull(issuer, "issuer");
        Objects.requireNonNull(expiresAt, "expiresAt");
        groups = List.copyOf(groups);
      }
    }

    /** Why the token is refused. {@code message} is safe to show the client: it never contains the token. */
    record Rejected(Rejection reason, String message) implements Result {
      public Rejected {
        Objects.requireNonNull(reason, "reason");
        Objects.requireNonNull(message, "message");
      }
    }
  }

  /** Why a token is refused. */
  public enum Rejection {
    MALFORMED, UNKNOWN_ISSUER, BAD_SIGNATURE, EXPIRED, NOT_YET_VALID, WRONG_AUDIENCE, MISSING_CLAIM, INVALID_USER,
    /** The issuer's keys cannot be fetched: the only reason that is not the client's fault (a 503, not a 401). */
    JWKS_UNAVAILABLE
  }

  private final Map<String, IssuerVerifier> byIssuer;

  private JwtVerifier(Map<String, IssuerVerifier> byIssuer) { this.byIssuer = Map.copyOf(byIssuer); }

  /** Prepares one processor per issuer. Fetches nothing yet. */
  public static JwtVerifier create(OidcSettings settings) {
    Map<String, IssuerVerifier> m = new HashMap<>();
    for (OidcSettings.Issuer i : settings.issuers()) m.put(i.issuer(), new IssuerVerifier(i, settings.clockSkew()));
    return new JwtVerifier(m);
  }

  /** Whether any issuer is configured; if not, every JWT is refused as {@code unknown_issuer}. */
  public boolean enabled() { return !byIssuer.isEmpty(); }

  /**
   * Whether a bearer token has the shape of a JWT (three base64url parts, the first a JSON header with "alg"), so the
   * edge can tell it from an API key without trying both. Unsigned tokens ({@code alg: none}, empty third part) count:
   * they must be refused as JWTs, not looked up as keys.
   */
  public static boolean looksLikeJwt(String token) {
    if (token == null || token.length() > MAX_TOKEN_CHARS) return false;
    String[] parts = token.split("\\.", -1);
    if (parts.length != 3 || parts[0].isEmpty() || parts[1].isEmpty()) return false;
    for (String p : parts) if (!BASE64URL.matcher(p).matches()) return false;
    try {
      return JSONObjectUtils.parse(new Base64URL(parts[0]).decodeToString()).get("alg") instanceof String;
    } catch (ParseException | RuntimeException e) {
      return false;
    }
  }

  /** Verifies a bearer token. May block on the first JWKS fetch of its issuer. */
  public Result verify(String token) {
    if (token == null || token.isBlank()) return malformed("the bearer token is empty");
    if (token.length() > MAX_TOKEN_CHARS) return malformed("the bearer token is longer than " + MAX_TOKEN_CHARS + " characters");
    JWT jwt;
    JWTClaimsSet unverified;
    try {
      jwt = JWTParser.parse(token);
      unverified = jwt.getJWTClaimsSet();
    } catch (ParseException | RuntimeException e) {   // nimbus reports most, but not all, bad input as ParseException
      return malformed("the bearer token is not a valid JWT");
    }
    if (jwt instanceof PlainJWT) return reject(Rejection.BAD_SIGNATURE, "unsigned tokens (alg none) are not accepted");
    if (!(jwt instanceof SignedJWT signed)) return malformed("encrypted tokens are not accepted");
    String iss = unverified.getIssuer();
    if (iss == null) return reject(Rejection.MISSING_CLAIM, "the token has no iss claim");
    IssuerVerifier issuer = byIssuer.get(iss);
    if (issuer == null) return reject(Rejection.UNKNOWN_ISSUER, "the token's issuer is not accepted here");
    return issuer.verify(signed);
  }

  private static Result.Rejected malformed(String message) { return reject(Rejection.MALFORMED, message); }

  private static Result.Rejected reject(Rejection reason, String message) { return new Result.Rejected(reason, message); }

  /** The verification chain of one issuer; the nimbus processor and key source are thread-safe once built. */
  private static final class IssuerVerifier {
    private final OidcSettings.Issuer settings;
    private final Set<JWSAlgorithm> algorithms;
    private final DefaultJWTProcessor<SecurityContext> processor = new DefaultJWTProcessor<>();
    // Whether the last JWKS fetch worked: tells a refused refetch for an unknown kid from an issuer outage.
    private final AtomicBoolean reachable = new AtomicBoolean(true);

    IssuerVerifier(OidcSettings.Issuer settings, Duration clockSkew) {
      this.settings = settings;
      this.algorithms = settings.algorithms().stream().map(JWSAlgorithm::parse).collect(Collectors.toUnmodifiableSet());
      JWKSource<SecurityContext> keys;
      try {
        keys = JWKSourceBuilder.<SecurityContext>create(settings.jwksUrl().toURL())
            .retrying(true)          // one immediate retry smooths over a dropped connection
            .outageTolerant(true)    // an issuer outage does not lock out tokens signed with keys we already have
            .healthReporting(report -> onFetched(report.getHealthStatus() == HealthStatus.HEALTHY, report.getException()))
            .build();
      } catch (MalformedURLException e) {
        throw new IllegalArgumentException("jwks-url: " + e.getMessage(), e);
      }
      processor.setJWSKeySelector(new JWSVerificationKeySelector<>(algorithms, keys));
      // OAuth access tokens may be typed "at+jwt" (RFC 9068); Keycloak sends "JWT", some issuers nothing.
      processor.setJWSTypeVerifier(new DefaultJOSEObjectTypeVerifier<>(
          JOSEObjectType.JWT, new JOSEObjectType("at+jwt"), null));
      var claims = new DefaultJWTClaimsVerifier<SecurityContext>(
          Set.of(settings.audience()),
          new JWTClaimsSet.Builder().issuer(settings.issuer()).build(),
          Set.of(JWTClaimNames.SUBJECT, JWTClaimNames.EXPIRATION_TIME),
          Set.of());
      claims.setMaxClockSkew((int) clockSkew.toSeconds());
      processor.setJWTClaimsSetVerifier(classifying(claims, clockSkew));
    }

    Result verify(SignedJWT jwt) {
      // Checked before any key lookup: a token naming an algorithm this issuer does not use (an HS256 token "signed"
      // with the public RSA key, say) never reaches a verifier.
      if (!algorithms.contains(jwt.getHeader().getAlgorithm())) {
        return reject(Rejection.BAD_SIGNATURE, "the token's signing algorithm is not accepted for its issuer");
      }
      JWTClaimsSet claims;
      try {
        claims = processor.process(jwt, null);
      } catch (ClaimsRejected e) {
        return e.rejected;
      } catch (BadJWSException e) {
        return reject(Rejection.BAD_SIGNATURE, "the token's signature is invalid");
      } catch (RateLimitReachedException e) {
        // The JWKS is fetched at most twice per 30 s, so neither made-up kids nor an outage make us hammer the issuer.
        return reachable.get() ? reject(Rejection.BAD_SIGNATURE, "no signing key of the issuer matches the token")
            : unavailable();
      } catch (KeySourceException e) {
        return unavailable();
      } catch (BadJOSEException e) {
        // No key with the token's kid and algorithm (even after a refetch), or a disallowed typ header.
        return reject(Rejection.BAD_SIGNATURE, "no signing key of the issuer matches the token");
      } catch (JOSEException e) {
        return reject(Rejection.BAD_SIGNATURE, "the token's signature cannot be verified");
      }
      return identify(claims);
    }

    private static Result unavailable() {
      return reject(Rejection.JWKS_UNAVAILABLE, "the issuer's signing keys cannot be fetched; try again later");
    }

    /** Logs only changes, so an issuer outage gives one warning rather than one per request. */
    private void onFetched(boolean ok, Exception error) {
      if (reachable.getAndSet(ok) == ok) return;
      if (ok) {
        log.info("JWKS of issuer {} reachable again at {}", settings.issuer(), settings.jwksUrl());
      } else {
        log.warn("JWKS of issuer {} unavailable at {}: {}", settings.issuer(), settings.jwksUrl(),
            error == null ? "unknown error" : error.getMessage());
      }
    }

    private Result identify(JWTClaimsSet claims) {
      Object user = claim(claims, settings.userClaim());
      if (!(user instanceof String value) || value.isEmpty()) {
        return reject(Rejection.MISSING_CLAIM, "the token has no string claim " + settings.userClaim());
      }
      String userId = settings.userPrefix() + value;
      if (!UserId.isValid(userId)) {
        return reject(Rejection.INVALID_USER, "the token's " + settings.userClaim()
            + " claim does not make a valid user id (" + UserId.RULE + ")");
      }
      Set<GroupName> groups = new LinkedHashSet<>();
      for (String name : settings.groupClaims()) {
        Object g = claim(claims, name);
        if (g instanceof String s) {
          group(s, groups);
        } else if (g instanceof List<?> list) {
          for (Object o : list) if (o instanceof String s) group(s, groups);
        }
      }
      return new Result.Verified(UserId.of(userId), new ArrayList<>(groups), settings.issuer(),
          claims.getExpirationTime().toInstant());
    }

    /** A group the identity provider names; one that is no group name (blank, control characters) is left out. */
    private void group(String name, Set<GroupName> groups) {
      if (GroupName.isValid(name)) groups.add(GroupName.of(name));
      else if (!name.isBlank()) log.debug("issuer {}: a group of a token left out: {}", settings.issuer(), GroupName.RULE);
    }
  }

  /**
   * A claim by name, or else by a dotted path into nested objects. The full name is tried first, so claim names that
   * contain dots themselves (namespaced URLs such as {@code https://example.org/groups}) still work.
   */
  static Object claim(JWTClaimsSet claims, String path) {
    Object whole = claims.getClaim(path);
    if (whole != null || !path.contains(".")) return whole;
    Object node = claims.getClaims();
    for (String part : path.split("\\.")) {
      if (!(node instanceof Map<?, ?> map)) return null;
      node = map.get(part);
    }
    return node;
  }

  /**
   * Wraps nimbus's claims check so a refusal carries its reason: nimbus says why only in its message text, which is
   * not an API. The signature is already verified when this runs, so the claims can be trusted to explain it.
   */
  private static JWTClaimsSetVerifier<SecurityContext> classifying(
      DefaultJWTClaimsVerifier<SecurityContext> delegate, Duration skew) {
    return (claims, ctx) -> {
      try {
        delegate.verify(claims, ctx);
      } catch (BadJWTException e) {
        throw new ClaimsRejected(classify(claims, delegate, skew));
      }
    };
  }

  private static Result.Rejected classify(JWTClaimsSet claims, DefaultJWTClaimsVerifier<SecurityContext> expected,
                                          Duration skew) {
    Instant now = Instant.now();
    Date exp = claims.getExpirationTime();
    Date nbf = claims.getNotBeforeTime();
    for (String required : expected.getRequiredClaims()) {
      if (claims.getClaim(required) == null) return reject(Rejection.MISSING_CLAIM, "the token has no " + required + " claim");
    }
    if (claims.getAudience().isEmpty()) return reject(Rejection.MISSING_CLAIM, "the token has no aud claim");
    if (!expected.getExactMatchClaims().getIssuer().equals(claims.getIssuer())) {
      return reject(Rejection.UNKNOWN_ISSUER, "the token's issuer is not accepted here");
    }
    if (exp != null && !exp.toInstant().plus(skew).isAfter(now)) return reject(Rejection.EXPIRED, "the token has expired");
    if (nbf != null && !nbf.toInstant().minus(skew).isBefore(now)) {
      return reject(Rejection.NOT_YET_VALID, "the token is not valid yet (nbf is in the future)");
    }
    if (claims.getAudience().stream().noneMatch(expected.getAcceptedAudienceValues()::contains)) {
      return reject(Rejection.WRONG_AUDIENCE,
          "the token's audience does not include " + expected.getAcceptedAudienceValues().iterator().next());
    }
    return malformed("the token's claims are invalid");
  }

  /** Carries a classified claims refusal out of the nimbus processor. */
  private static final class ClaimsRejected extends BadJWTException {
    final Result.Rejected rejected;

    ClaimsRejected(Result.Rejected rejected) {
      super(rejected.message());
      this.rejected = rejected;
    }
  }
}
