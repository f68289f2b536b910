package sluice.edge.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.nimbusds.jose.JOSEException;
import com.nimbusds.jose.JWSAlgorithm;
import com.nimbusds.jose.JWSHeader;
import com.nimbusds.jose.crypto.MACSigner;
import com.nimbusds.jose.jwk.ECKey;
import com.nimbusds.jose.jwk.RSAKey;
import com.nimbusds.jwt.PlainJWT;
import com.nimbusds.jwt.SignedJWT;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.core.ids.GroupName;
import sluice.edge.auth.JwtVerifier.Rejection;
import sluice.edge.auth.JwtVerifier.Result;
import sluice.edge.auth.JwtVerifier.Result.Rejected;
import sluice.edge.auth.JwtVerifier.Result.Verified;

class JwtVerifierTest {
  static final Jwts idp = Jwts.start("https://idp.test/realms/hpc");
  static final Duration SKEW = Duration.ofSeconds(60);

  @AfterAll static void stop() { idp.close(); }

  private static JwtVerifier verifier(OidcSettings.Issuer... issuers) {
    return JwtVerifier.create(new OidcSettings(List.of(issuers), SKEW));
  }

  private static JwtVerifier verifier() { return verifier(idp.issuerSettings()); }

  private static OidcSettings.Issuer issuer(Jwts jwts, String userClaim, String prefix, List<String> groupClaims) {
    return new OidcSettings.Issuer(jwts.issuer(), jwts.jwksUrl(), Jwts.AUDIENCE, userClaim, prefix, groupClaims,
        List.of("RS256", "ES256"));
  }

  private static List<String> names(List<GroupName> groups) { return groups.stream().map(GroupName::value).toList(); }

  private static Verified assertVerified(Result r) {
    return assertInstanceOf(Verified.class, r, () -> "expected acceptance, got " + r);
  }

  /** Checks the reason, and that nothing of the token leaks into what the client is shown. */
  private static Rejected assertRejected(Rejection reason, String token, Result r) {
    Rejected rejected = assertInstanceOf(Rejected.class, r, () -> "expected " + reason + ", got " + r);
    assertEquals(reason, rejected.reason(), rejected::message);
    for (String part : token.split("\\.")) {
      if (part.length() > 8) assertFalse(rejected.message().contains(part), "message leaks the token: " + rejected.message());
    }
    return rejected;
  }

  @Test void validTokenNamesUserGroupsIssuerAndExpiry() {
    Instant exp = Instant.now().plus(Duration.ofMinutes(10)).truncatedTo(java.time.temporal.ChronoUnit.SECONDS);
    String token = idp.sign(idp.claims("alice").expirationTime(Date.from(exp))
        .claim("groups", List.of("org-a", "unit-b")).build());
    Verified v = assertVerified(verifier().verify(token));
    assertEquals("alice", v.userId().value());
    assertEquals(List.of("org-a", "unit-b"), names(v.groups()));
    assertEquals(idp.issuer(), v.issuer());
    assertEquals(exp, v.expiresAt());
  }

  @Test void groupsAreTheUnionOfStringArrayAndNestedClaimsInClaimOrder() {
    String token = idp.sign(idp.claims("bob")
        .claim("org", "uni-goettingen")
        .claim("groups", List.of("unit-gwdg", "uni-goettingen", "hpc"))
        .claim("realm_access", Map.of("roles", List.of("hpc", "admin")))
        .build());
    var v = assertVerified(verifier(issuer(idp, "sub", "", List.of("org", "groups", "realm_access.roles", "absent")))
        .verify(token));
    assertEquals(List.of("uni-goettingen", "unit-gwdg", "hpc", "admin"), names(v.groups()));
  }

  @Test void claimNamesContainingDotsAreReadWhole() {
    String token = idp.sign(idp.claims("carol").claim("https://saia.example/groups", List.of("team-x")).build());
    var v = assertVerified(verifier(issuer(idp, "sub", "", List.of("https://saia.example/groups"))).verify(token));
    assertEquals(List.of("team-x"), names(v.groups()));
  }

  @Test void userIdIsPrefixPlusConfiguredClaim() {
    String token = idp.sign(idp.claims("f81d4fae-7dec").claim("preferred_username", "dave@uni.example").build());
    var v = assertVerified(verifier(issuer(idp, "preferred_username", "kc:", List.of())).verify(token));
    assertEquals("kc:dave@uni.example", v.userId().value());
    assertEquals(List.of(), names(v.groups()));
  }

  @Test void userClaimMayBeNested() {
    String token = idp.sign(idp.claims("x1").claim("user", Map.of("login", "erin")).build());
    assertEquals("erin", assertVerified(verifier(issuer(idp, "user.login", "", List.of())).verify(token)).userId().value());
  }

  @Test void ecP256TokenIsAccepted() {
    ECKey ec = idp.addEcKey();
    String token = Jwts.sign(ec, idp.claims("frank").build());
    assertEquals("frank", assertVerified(verifier().verify(token)).userId().value());
  }

  @Test void algorithmNotListedForTheIssuerIsRejected() {
    ECKey ec = idp.addEcKey();
    String token = Jwts.sign(ec, idp.claims("frank").build());
    var rsaOnly = new OidcSettings.Issuer(idp.issuer(), idp.jwksUrl(), Jwts.AUDIENCE, "sub", "", List.of(), List.of("RS256"));
    assertRejected(Rejection.BAD_SIGNATURE, token, verifier(rsaOnly).verify(token));
  }

  @Test void unknownIssuerIsRejected() {
    String token = idp.token("https://elsewhere.test", Jwts.AUDIENCE, "alice", Instant.now().plusSeconds(300), List.of());
    assertRejected(Rejection.UNKNOWN_ISSUER, token, verifier().verify(token));
  }

  @Test void noIssuerConfiguredRejectsEveryToken() {
    JwtVerifier none = JwtVerifier.create(new OidcSettings(List.of(), SKEW));
    assertFalse(none.enabled());
    assertTrue(verifier().enabled());
    String token = idp.token("alice", List.of());
    assertRejected(Rejection.UNKNOWN_ISSUER, token, none.verify(token));
  }

  @Test void tokenClaimingOneIssuerButSignedByAnotherIsRejected() {
    try (Jwts other = Jwts.start("https://other.test")) {
      String forged = other.sign(idp.claims("alice").build());
      assertRejected(Rejection.BAD_SIGNATURE, forged, verifier(idp.issuerSettings(), other.issuerSettings()).verify(forged));
    }
  }

  @Test void wrongAudienceIsRejected() {
    String token = idp.token(idp.issuer(), "another-service", "alice", Instant.now().plusSeconds(300), List.of());
    Rejected r = assertRejected(Rejection.WRONG_AUDIENCE, token, verifier().verify(token));
    assertTrue(r.message().contains(Jwts.AUDIENCE), r.message());
  }

  @Test void audienceListContainingOursIsAccepted() {
    String token = idp.sign(idp.claims("alice").audience(List.of("account", Jwts.AUDIENCE)).build());
    assertVerified(verifier().verify(token));
  }

  @Test void signatureByAnotherKeyWithTheSameKidIsRejected() {
    RSAKey impostor = Jwts.newRsaKey(idp.signingKey().getKeyID());
    String token = Jwts.sign(impostor, idp.claims("alice").build());
    assertRejected(Rejection.BAD_SIGNATURE, token, verifier().verify(token));
  }

  @Test void tamperedPayloadIsRejected() {
    String[] good = idp.token("alice", List.of()).split("\\.");
    String evil = idp.claims("root").build().toPayload().toBase64URL().toString();
    String token = good[0] + "." + evil + "." + good[2];
    assertRejected(Rejection.BAD_SIGNATURE, token, verifier().verify(token));
  }

  @Test void expiredBeyondTheClockSkewIsRejected() {
    String token = idp.token(idp.issuer(), Jwts.AUDIENCE, "alice", Instant.now().minus(SKEW).minusSeconds(60), List.of());
    assertRejected(Rejection.EXPIRED, token, verifier().verify(token));
  }

  @Test void expiredWithinTheClockSkewIsAccepted() {
    String token = idp.token(idp.issuer(), Jwts.AUDIENCE, "alice", Instant.now().minus(SKEW.dividedBy(2)), List.of());
    assertVerified(verifier().verify(token));
  }

  @Test void notBeforeInTheFutureIsRejected() {
    String token = idp.sign(idp.claims("alice").notBeforeTime(Date.from(Instant.now().plus(Duration.ofMinutes(3)))).build());
    assertRejected(Rejection.NOT_YET_VALID, token, verifier().verify(token));
  }

  @Test void missingSubjectIsRejected() {
    String token = idp.token(idp.issuer(), Jwts.AUDIENCE, null, Instant.now().plusSeconds(300), List.of());
    Rejected r = assertRejected(Rejection.MISSING_CLAIM, token, verifier().verify(token));
    assertTrue(r.message().contains("sub"), r.message());
  }

  @Test void missingExpiryIsRejected() {
    String token = idp.sign(idp.claims("alice").expirationTime(null).build());
    assertRejected(Rejection.MISSING_CLAIM, token, verifier().verify(token));
  }

  @Test void missingConfiguredUserClaimIsRejected() {
    String token = idp.token("alice", List.of());
    assertRejected(Rejection.MISSING_CLAIM, token, verifier(issuer(idp, "preferred_username", "", List.of())).verify(token));
  }

  @Test void userIdOutsideTheAllowedCharactersIsRejected() {
    for (String sub : List.of("alice smith", "-alice", "a".repeat(129), "alice/../bob")) {
      String token = idp.token(sub, List.of());
      assertRejected(Rejection.INVALID_USER, token, verifier().verify(token));
    }
  }

  @Test void unsignedTokenIsRejected() {
    String token = new PlainJWT(idp.claims("alice").build()).serialize();
    assertTrue(JwtVerifier.looksLikeJwt(token), "alg none must be refused as a JWT, not tried as an API key");
    assertRejected(Rejection.BAD_SIGNATURE, token, verifier().verify(token));
  }

  @Test void hmacTokenKeyedWithThePublicRsaKeyIsRejected() throws JOSEException {
    // Algorithm confusion: a verifier that took "alg" from the token would check this HMAC with the public key bytes.
    RSAKey pub = idp.signingKey().toPublicJWK();
    var jwt = new SignedJWT(new JWSHeader.Builder(JWSAlgorithm.HS256).keyID(pub.getKeyID()).build(), idp.claims("root").build());
    jwt.sign(new MACSigner(pub.toRSAPublicKey().getEncoded()));
    String token = jwt.serialize();
    assertRejected(Rejection.BAD_SIGNATURE, token, verifier().verify(token));
  }

  @Test void garbageIsMalformed() {
    for (String token : List.of("not-a-jwt", "a.b.c", "eyJhbGciOiJSUzI1NiJ9.!!!.abc", " ")) {
      assertRejected(Rejection.MALFORMED, token, verifier().verify(token));
    }
  }

  @Test void looksLikeJwtTellsTokensFromApiKeys() {
    assertTrue(JwtVerifier.looksLikeJwt(idp.token("alice", List.of())));
    assertFalse(JwtVerifier.looksLikeJwt("sk-3f9a8b7c6d5e4f3a2b1c"));
    assertFalse(JwtVerifier.looksLikeJwt("a.b.c"));                                     // header is not JSON
    assertFalse(JwtVerifier.looksLikeJwt("eyJmb28iOiJiYXIifQ.eyJzdWIiOiJ4In0.c2ln"));   // JSON header without alg
    assertFalse(JwtVerifier.looksLikeJwt("eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0"));       // two parts
    assertFalse(JwtVerifier.looksLikeJwt(null));
  }

  @Test void rotatedKeyIsAcceptedAfterTheJwksIsFetchedAgain() {
    try (Jwts rotating = Jwts.start("https://rotating.test")) {
      JwtVerifier v = verifier(rotating.issuerSettings());
      assertVerified(v.verify(rotating.token("alice", List.of())));
      assertVerified(v.verify(rotating.token("bob", List.of())));
      assertEquals(1, rotating.jwksRequests(), "the JWKS is cached");

      rotating.rotate();
      assertEquals("carol", assertVerified(v.verify(rotating.token("carol", List.of()))).userId().value());
      assertEquals(2, rotating.jwksRequests(), "an unknown kid triggers one refetch");
    }
  }

  @Test void madeUpKeyIdsDoNotMakeUsHammerTheIssuer() {
    try (Jwts target = Jwts.start("https://target.test")) {
      JwtVerifier v = verifier(target.issuerSettings());
      assertVerified(v.verify(target.token("alice", List.of())));
      RSAKey mallory = Jwts.newRsaKey();
      for (int i = 0; i < 5; i++) {
        String token = Jwts.sign(new RSAKey.Builder(mallory).keyID("made-up-" + i).build(), target.claims("mallory").build());
        assertRejected(Rejection.BAD_SIGNATURE, token, v.verify(token));
      }
      assertEquals(2, target.jwksRequests(), "one fetch, then one refetch for an unknown kid, then the rate limit");
      assertVerified(v.verify(target.token("alice", List.of())));
    }
  }

  @Test void unreachableJwksIsReportedAsUnavailable() {
    Jwts gone = Jwts.start("https://gone.test");
    JwtVerifier v = verifier(gone.issuerSettings());
    String token = gone.token("alice", List.of());
    gone.close();
    for (int i = 0; i < 4; i++) {   // the rate limit that holds back refetches must not turn an outage into a 401
      Rejected r = assertRejected(Rejection.JWKS_UNAVAILABLE, token, v.verify(token));
      assertFalse(r.message().contains(gone.jwksUrl().toString()), "the client is not told where our issuer lives");
    }
  }

  @Test void jwksUrlAnsweringNotFoundIsReportedAsUnavailable() {
    var broken = new OidcSettings.Issuer(idp.issuer(), idp.jwksUrl().resolve("/no-such-path"), Jwts.AUDIENCE, "sub", "",
        List.of(), List.of("RS256"));
    String token = idp.token("alice", List.of());
    assertRejected(Rejection.JWKS_UNAVAILABLE, token, verifier(broken).verify(token));
  }
}
