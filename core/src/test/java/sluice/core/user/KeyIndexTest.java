package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class KeyIndexTest {
  private static final Instant T = Instant.parse("2024-05-14T10:00:00Z");

  private static UserActor.KeyCreated created(String keyId, String digest) {
    return new UserActor.KeyCreated(keyId, digest, "", T, null, List.of(), Limits.NONE);
  }

  @Test void followsCreationAndRevocationInAnyOrderAndTwice() {
    KeyIndex index = KeyIndex.empty();
    index.apply("bob", new UserActor.UserCreated(List.of(), "admin", UserLimits.NONE, T));
    index.apply("alice", new UserActor.UserCreated(List.of(), "admin", UserLimits.NONE, T));
    index.apply("alice", created("k1", "d1"));
    index.apply("alice", created("k2", "d2"));
    assertEquals(Optional.of(new KeyRef("alice", "k1")), index.byDigest("d1"));
    assertEquals(List.of("alice", "bob"), index.users());

    index.apply("alice", new UserActor.KeyRevoked("k1", T));
    index.apply("alice", new UserActor.KeyRevoked("k1", T));
    assertEquals(Optional.of(new KeyRef("alice", "k1")), index.byDigest("d1"),
        "a revoked key still leads to its user, whose actor refuses it as revoked");
    assertEquals(Optional.of("alice"), index.userOfKey("k1"), "a revoked key still names its user");
    index.apply("alice", created("k1", "d1"));                                   // a replay changes nothing
    assertEquals(Optional.of(new KeyRef("alice", "k1")), index.byDigest("d1"));
    assertEquals(Optional.of(new KeyRef("alice", "k2")), index.byDigest("d2"));
    index.apply("alice", new UserActor.GroupsChanged(List.of("x"), T));          // not an index event
    index.apply("bob", created("k1", "d3"));
    assertEquals(Optional.of(new KeyRef("bob", "k1")), index.byDigest("d3"));
    assertEquals(Optional.empty(), index.byDigest(null));
    assertEquals(Optional.empty(), index.userOfKey("nope"));
  }
}
