package sluice.edge.auth;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.JWSSigner;
import com.nimbusds.jose.crypto.ECDSASigner;
import com.nimbusds.jose.crypto.RSASSASigner;
import com.nimbusds.jose.jwk.Curve;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.JWK;
import com.nimbusds.jose.jwk.JWKSet;
import com.nimbusds.jose.jwk.KeyUse;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jose.jwk.gen.ECKeyGenerator;
import com.nimbusds.jose.jwk.gen.RSAKeyGenerator;
import com.nimbusds.jwt.JWTClaimsSet;
import com.nimbusds.jwt.SignedJWT;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A local OIDC issuer for tests: an RSA key pair whose public JWKS is served by a JDK HTTP server on 127.0.0.1, and
 * methods to mint tokens with chosen claims. Integration tests configure the gateway with {@link #issuerConfig}.
 *
 * <pre>{@code
 * try (Jwts idp = Jwts.start("https://idp.test/realms/x")) {
 *   String token = idp.token("alice", List.of("org-a", "unit-b"));     // aud "sluice", exp in 5 minutes
 *   String expired = idp.token(idp.issuer(), "sluice", "alice", Instant.now().minusSeconds(3600), List.of());
 * }
 * }</pre>
 */
public final class Jwts implements AutoCloseable {
  public static final String AUDIENCE = "sluice";
  /** The claim {@link #token} puts the groups in; {@link #issuerSettings} and {@link #issuerConfig} read it. */
  public static final String GROUPS_CLAIM = "groups";

  private final String issuer;
  private final HttpServer server;
  private final AtomicInteger requests = new AtomicInteger();
  private volatile RSAKey signingKey;
  private volatile List<JWK> served;

  private Jwts(String issuer, HttpServer server, RSAKey key) {
    this.issuer = issuer;
    this.server = server;
    this.signingKey = key;
    this.served = List.of(key);
  }

  /** Starts an issuer with one RSA 2048 key, served as the JWKS at {@link #jwksUrl}. */
  public static Jwts start(String issuer) {
    try {
      HttpServer server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
      Jwts jwts = new Jwts(issuer, server, newRsaKey());
      server.createContext("/certs", exchange -> {
        jwts.requests.incrementAndGet();
        byte[] body = new JWKSet(jwts.served).toPublicJWKSet().toString().getBytes(StandardCharsets.UTF_8);
        exchange.getResponseHeaders().set("Content-Type", "application/json");
        exchange.sendResponseHeaders(200, body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      });
      server.start();
      return jwts;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  public String issuer() { return issuer; }

  public URI jwksUrl() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/certs");
  }

  /** The RSA key tokens are signed with; its public part is in the JWKS. */
  public RSAKey signingKey() { return signingKey; }

  /** How many times the JWKS has been fetched. */
  public int jwksRequests() { return requests.get(); }

  /** Key rotation: a new RSA key signs from now on, and the JWKS serves only it. */
  public RSAKey rotate() {
    RSAKey next = newRsaKey();
    signingKey = next;
    served = List.of(next);
    return next;
  }

  /** Adds a key (its public part) to the JWKS, next to those already served. */
  public void publish(JWK key) {
    var keys = new ArrayList<>(served);
    keys.add(key);
    served = List.copyOf(keys);
  }

  /** A fresh EC P-256 key, already published in the JWKS. */
  public ECKey addEcKey() {
    ECKey key = newEcKey(UUID.randomUUID().toString());
    publish(key);
    return key;
  }

  /** Claims this issuer would put in a valid token: iss, aud {@value #AUDIENCE}, sub, iat now and exp in 5 minutes. */
  public JWTClaimsSet.Builder claims(String subject) {
    Instant now = Instant.now();
    return new JWTClaimsSet.Builder().issuer(issuer).audience(AUDIENCE).subject(subject)
        .issueTime(Date.from(now)).expirationTime(Date.from(now.plus(Duration.ofMinutes(5))));
  }

  /** A valid token for {@code subject} carrying {@code groups} in the {@value #GROUPS_CLAIM} claim. */
  public String token(String subject, List<String> groups) {
    return sign(claims(subject).claim(GROUPS_CLAIM, groups).build());
  }

  /** A token with the chosen iss, aud, sub (null leaves it out), exp and groups, signed with the current key. */
  public String token(String iss, String aud, String subject, Instant expiresAt, List<String> groups) {
    return sign(new JWTClaimsSet.Builder().issuer(iss).audience(aud).subject(subject)
        .issueTime(Date.from(expiresAt.minus(Duration.ofMinutes(5)))).expirationTime(Date.from(expiresAt))
        .claim(GROUPS_CLAIM, groups).build());
  }

  /** Signs claims with the current RSA key (RS256). */
  public String sign(JWTClaimsSet claims) { return sign(signingKey, claims); }

  /** Signs claims with any private key: RS256 for RSA, ES256 for EC P-256; the header carries the key's kid. */
  public static String sign(JWK key, JWTClaimsSet claims) {
    try {
      JWSAlgorithm alg;
      JWSSigner signer;
      if (key instanceof RSAKey rsa) {
        alg = JWSAlgorithm.RS256;
        signer = new RSASSASigner(rsa);
      } else if (key instanceof ECKey ec) {
        alg = JWSAlgorithm.ES256;
        signer = new ECDSASigner(ec);
      } else {
        throw new IllegalArgumentException("RSA or EC keys only: " + key.getKeyType());
      }
      var jwt = new SignedJWT(new JWSHeader.Builder(alg).keyID(key.getKeyID()).build(), claims);
      jwt.sign(signer);
      return jwt.serialize();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** This issuer as {@link OidcSettings} expect it: audience {@value #AUDIENCE}, user from sub, groups claim. */
  public OidcSettings.Issuer issuerSettings() {
    return new OidcSettings.Issuer(issuer, jwksUrl(), AUDIENCE, "sub", "", List.of(GROUPS_CLAIM), List.of("RS256", "ES256"));
  }

  /** This issuer as one HOCON entry of {@code sluice.auth.oidc.issuers}. */
  public String issuerConfig() {
    return "{ issuer = \"" + issuer + "\", jwks-url = \"" + jwksUrl() + "\", audience = \"" + AUDIENCE
        + "\", group-claims = [\"" + GROUPS_CLAIM + "\"] }";
  }

  public static RSAKey newRsaKey() { return newRsaKey(UUID.randomUUID().toString()); }

  public static RSAKey newRsaKey(String kid) {
    try {
      return new RSAKeyGenerator(2048).keyID(kid).keyUse(KeyUse.SIGNATURE).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  public static ECKey newEcKey(String kid) {
    try {
      return new ECKeyGenerator(Curve.P_256).keyID(kid).keyUse(KeyUse.SIGNATURE).generate();
    } catch (JOSEException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Stops serving the JWKS: later fetches are refused. */
  @Override public void close() { server.stop(0); }
}
