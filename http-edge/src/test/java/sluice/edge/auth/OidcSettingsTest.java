package sluice.edge.auth;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

class OidcSettingsTest {
  private static final Config REFERENCE = ConfigFactory.parseResources("reference.conf");
  private static final String VALID = "issuer = \"https://login.example.org/realms/x\", "
      + "jwks-url = \"https://login.example.org/realms/x/protocol/openid-connect/certs\", audience = sluice";

  private static OidcSettings parse(String oidc) {
    return OidcSettings.from(ConfigFactory.parseString("sluice.auth.oidc { " + oidc + " }").withFallback(REFERENCE).resolve());
  }

  private static OidcSettings parseIssuer(String fields) { return parse("issuers = [{ " + fields + " }]"); }

  @Test void referenceAcceptsNoIssuers() {
    OidcSettings s = OidcSettings.from(REFERENCE.resolve());
    assertEquals(List.of(), s.issuers());
    assertEquals(Duration.ofSeconds(60), s.clockSkew());
  }

  @Test void omittedFieldsTakeTheirDefaults() {
    OidcSettings.Issuer i = parseIssuer(VALID).issuers().get(0);
    assertEquals("https://login.example.org/realms/x", i.issuer());
    assertEquals(URI.create("https://login.example.org/realms/x/protocol/openid-connect/certs"), i.jwksUrl());
    assertEquals("sluice", i.audience());
    assertEquals("sub", i.userClaim());
    assertEquals("", i.userPrefix());
    assertEquals(List.of(), i.groupClaims());
    assertEquals(List.of("RS256", "ES256"), i.algorithms());
  }

  @Test void everyFieldIsRead() {
    OidcSettings s = parse("clock-skew = 5s, issuers = [{ " + VALID + ", user-claim = preferred_username, "
        + "user-prefix = \"kc:\", group-claims = [org, \"realm_access.roles\"], algorithms = [PS256] }]");
    OidcSettings.Issuer i = s.issuers().get(0);
    assertEquals(Duration.ofSeconds(5), s.clockSkew());
    assertEquals("preferred_username", i.userClaim());
    assertEquals("kc:", i.userPrefix());
    assertEquals(List.of("org", "realm_access.roles"), i.groupClaims());
    assertEquals(List.of("PS256"), i.algorithms());
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', value = {
      "jwks-url     | \"ftp://login.example.org/certs\"",
      "jwks-url     | \"file:///etc/certs.json\"",
      "jwks-url     | \"/realms/x/certs\"",
      "jwks-url     | \"https://bad host/certs\"",
      "issuer       | \"\"",
      "audience     | \"  \"",
      "user-claim   | \"\"",
      "user-claim   | \"realm_access..name\"",
      "user-prefix  | \"has space:\"",
      "user-prefix  | \":leading\"",
      "group-claims | [\"groups\", \"\"]",
      "algorithms   | []",
      "algorithms   | [none]",
      "algorithms   | [HS256]",
      "algorithms   | [RS256, HS512]",
      "algorithms   | [RS257]",
      "algorithms   | [EdDSA]",
  })
  void invalidIssuerValueIsRejectedNamingTheKey(String key, String value) {
    // Later fields override earlier ones in a HOCON object, so the bad value replaces the valid one.
    var e = assertThrows(ConfigException.class, () -> parseIssuer(VALID + ", " + key + " = " + value));
    assertTrue(e.getMessage().contains("sluice.auth.oidc.issuers[0]." + key), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"issuer", "jwks-url", "audience"})
  void requiredFieldIsMissing(String key) {
    String fields = VALID.replaceAll(key + " = [^,]+(, )?", "");
    var e = assertThrows(ConfigException.Missing.class, () -> parseIssuer(fields));
    assertTrue(e.getMessage().contains("sluice.auth.oidc.issuers[0]." + key), e.getMessage());
  }

  @Test void sameIssuerTwiceIsRejected() {
    var e = assertThrows(ConfigException.BadValue.class, () -> parse("issuers = [{ " + VALID + " }, { " + VALID + " }]"));
    assertTrue(e.getMessage().contains("sluice.auth.oidc.issuers[1].issuer"), e.getMessage());
  }

  @Test void groupClaimsOfTheWrongTypeNameTheKey() {
    var e = assertThrows(ConfigException.WrongType.class, () -> parseIssuer(VALID + ", group-claims = { a = b }"));
    assertTrue(e.getMessage().contains("sluice.auth.oidc.issuers[0].group-claims"), e.getMessage());
  }

  @ParameterizedTest
  @CsvSource({"-1s", "11m"})
  void clockSkewOutOfRangeIsRejected(String skew) {
    var e = assertThrows(ConfigException.BadValue.class, () -> parse("clock-skew = " + skew));
    assertTrue(e.getMessage().contains("sluice.auth.oidc.clock-skew"), e.getMessage());
  }

  @Test void issuerBuiltInCodeIsValidatedToo() {
    assertThrows(IllegalArgumentException.class, () -> new OidcSettings.Issuer("https://x", URI.create("https://x/certs"),
        "sluice", "sub", "", List.of(), List.of("HS256")));
  }
}
