package sluice.core.user;

import java.time.Instant;
import java.util.List;
import sluice.core.CborSerializable;

/**
 * An API key as the admin API shows it: never the secret, which exists only in the response that created it.
 *
 * @param models    the models this key may use; empty means all
 * @param expiresAt null for a key that never expires
 * @param revokedAt null unless revoked
 */
public record KeyView(String id, String name, Instant createdAt, Instant expiresAt, List<String> models, Limits limits,
                      Instant revokedAt) implements CborSerializable {
  public KeyView {
    models = List.copyOf(models);
  }
}
