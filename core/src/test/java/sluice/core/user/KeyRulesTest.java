package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sluice.core.AdminRefusal;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.user.UserActor.Key;
import sluice.core.user.UserActor.State;

class KeyRulesTest {
  static final Instant NOW = Instant.parse("2024-05-14T10:20:30.500Z");
  static final String DIGEST = "ab".repeat(32);

  static Key key(Instant expiresAt, List<String> models, Instant revokedAt) {
    return new Key("key_1", DIGEST, "laptop", NOW.minus(Duration.ofDays(1)), expiresAt, models, Limits.NONE, revokedAt);
  }

  static Optional<AdmissionRefusal> use(Key key, String model) {
    return KeyRules.refusalToUse(Optional.of(key), ServiceId.of(model), NOW).map(Admission.Refused::reason);
  }

  @Test void aValidKeyMayBeUsed() {
    assertEquals(Optional.empty(), use(key(null, List.of(), null), "m"));
    assertEquals(Optional.empty(), use(key(NOW.plusMillis(1), List.of("m"), null), "m"));
  }

  @Test void noKeyIsAnUnknownKeyWithNoWaitAndNoKeyId() {
    var r = KeyRules.refusalToUse(Optional.empty(), ServiceId.of("m"), NOW).orElseThrow();
    assertEquals(new Admission.Refused(AdmissionRefusal.UNKNOWN_KEY, "Incorrect API key provided", -1, null, RateInfo.NONE), r);
  }

  @Test void aRevokedKeyIsRefusedBeforeItsExpiryOrModels() {
    assertEquals(Optional.of(AdmissionRefusal.KEY_REVOKED), use(key(NOW.minusSeconds(1), List.of("other"), NOW.minusSeconds(5)), "m"));
  }

  @ParameterizedTest(name = "expires {0} ms from now: refused {1}")
  @CsvSource({"-1000, true", "0, true", "1, false"})
  void aKeyExpiresAtItsExpiryTime(long millis, boolean refused) {
    assertEquals(refused, use(key(NOW.plusMillis(millis), List.of(), null), "m").isPresent());
  }

  @Test void anExpiredKeySaysWhen() {
    var r = KeyRules.refusalToUse(Optional.of(key(NOW, List.of(), null)), ServiceId.of("m"), NOW).orElseThrow();
    assertEquals("This API key expired at " + NOW, r.message());
    assertEquals("key_1", r.keyId());
    assertEquals(-1, r.retryAfterSeconds());
  }

  @Test void aKeyLimitedToModelsNamesTheAllowedOnes() {
    var r = KeyRules.refusalToUse(Optional.of(key(null, List.of("small", "tiny"), null)), ServiceId.of("big"), NOW).orElseThrow();
    assertEquals(AdmissionRefusal.MODEL_NOT_ALLOWED, r.reason());
    assertEquals("This API key may not use model big (allowed: small, tiny)", r.message());
  }

  // ---------------------------------------------------------------- creation

  static State userWith(Key... keys) {
    Map<String, Key> m = new HashMap<>();
    for (Key k : keys) m.put(k.id(), k);
    return new State(NOW, "admin", List.of(), UserLimits.NONE, m, List.of());
  }

  static UserActor.CreateKey create(String id, String digest, Instant expiresAt) {
    return new UserActor.CreateKey(KeyId.of(id), digest, KeyName.of("k"), expiresAt, List.of(), Limits.NONE, null);
  }

  static Optional<UserReply.Refused> creation(State s, UserActor.CreateKey c, boolean digestTaken) {
    return KeyRules.refusalToCreate(s, c, digestTaken, NOW);
  }

  @Test void aNewKeyMayBeCreated() {
    assertEquals(Optional.empty(), creation(userWith(key(null, List.of(), null)), create("key_2", "cd".repeat(32), NOW.plusSeconds(1)), false));
  }

  @Test void aKeyIdOrSecretIsUsedOnlyOnce() {
    State s = userWith(key(null, List.of(), null));
    assertEquals(new UserReply.Refused(AdminRefusal.KEY_EXISTS, "key key_1 already exists"),
        creation(s, create("key_1", "cd".repeat(32), null), false).orElseThrow());
    assertEquals(new UserReply.Refused(AdminRefusal.KEY_EXISTS, "a key with this secret already exists"),
        creation(s, create("key_2", DIGEST, null), false).orElseThrow());
    assertEquals(AdminRefusal.KEY_EXISTS, creation(s, create("key_2", "cd".repeat(32), null), true).orElseThrow().reason(),
        "another user's key has this secret");
  }

  @Test void aKeyCannotExpireInThePast() {
    var r = creation(userWith(), create("key_2", "cd".repeat(32), NOW), false).orElseThrow();
    assertEquals(AdminRefusal.INVALID_REQUEST, r.reason());
    assertTrue(r.message().contains("is not in the future"), r.message());
  }
}
