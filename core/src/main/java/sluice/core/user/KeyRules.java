package sluice.core.user;

import java.time.Instant;
import java.util.Optional;
import sluice.core.AdminRefusal;
import sluice.core.ids.ServiceId;
import sluice.core.user.Admission.Refused;
import sluice.core.user.UserActor.CreateKey;
import sluice.core.user.UserActor.Key;
import sluice.core.user.UserActor.State;

/** Whether a key may be created, and whether a presented key may be used: checked before anything is written or counted. */
final class KeyRules {
  private KeyRules() {}

  /**
   * Why the key is refused, or empty if it may be used for {@code model} at {@code now}.
   *
   * @param key empty when no key of the user has the presented secret
   */
  static Optional<Refused> refusalToUse(Optional<Key> key, ServiceId model, Instant now) {
    if (key.isEmpty()) return refused(AdmissionRefusal.UNKNOWN_KEY, "Incorrect API key provided", null);
    Key k = key.get();
    if (k.revokedAt() != null) return refused(AdmissionRefusal.KEY_REVOKED, "This API key has been revoked", k.id());
    if (k.expiresAt() != null && !k.expiresAt().isAfter(now)) {
      return refused(AdmissionRefusal.KEY_EXPIRED, "This API key expired at " + k.expiresAt(), k.id());
    }
    if (!k.models().isEmpty() && !k.models().contains(model.value())) {
      return refused(AdmissionRefusal.MODEL_NOT_ALLOWED, "This API key may not use model " + model
          + " (allowed: " + String.join(", ", k.models()) + ")", k.id());
    }
    return Optional.empty();
  }

  // Waiting does not help (-1), and no limit was involved (no rate information).
  private static Optional<Refused> refused(AdmissionRefusal reason, String message, String keyId) {
    return Optional.of(new Refused(reason, message, -1, keyId, RateInfo.NONE));
  }

  /**
   * Why user {@code s} may not get key {@code c}, or empty if it may.
   *
   * @param digestTaken the key index knows a key with this secret (any user's, revoked ones too)
   */
  static Optional<UserReply.Refused> refusalToCreate(State s, CreateKey c, boolean digestTaken, Instant now) {
    if (s.keys().containsKey(c.keyId().value())) {
      return Optional.of(new UserReply.Refused(AdminRefusal.KEY_EXISTS, "key " + c.keyId() + " already exists"));
    }
    if (s.keyByDigest(c.digest()).isPresent() || digestTaken) {
      return Optional.of(new UserReply.Refused(AdminRefusal.KEY_EXISTS, "a key with this secret already exists"));
    }
    if (c.expiresAt() != null && !c.expiresAt().isAfter(now)) {
      return Optional.of(new UserReply.Refused(AdminRefusal.INVALID_REQUEST, "expires_at " + c.expiresAt() + " is not in the future"));
    }
    return Optional.empty();
  }
}
