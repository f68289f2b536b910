package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;
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
    index.apply("alice", created("key_1", "d1"));
    index.apply("alice", created("key_2", "d2"));
    assertEquals(Optional.of(new KeyRef(UserId.of("alice"), KeyId.of("key_1"))), index.byDigest("d1"));
    assertEquals(List.of(UserId.of("alice"), UserId.of("bob")), index.users());

    index.apply("alice", new UserActor.KeyRevoked("key_1", T));
    index.apply("alice", new UserActor.KeyRevoked("key_1", T));
    assertEquals(Optional.of(new KeyRef(UserId.of("alice"), KeyId.of("key_1"))), index.byDigest("d1"),
        "a revoked key still leads to its user, whose actor refuses it as revoked");
    assertEquals(Optional.of(UserId.of("alice")), index.userOfKey(KeyId.of("key_1")), "a revoked key still names its user");
    index.apply("alice", created("key_1", "d1"));                                   // a replay changes nothing
    assertEquals(Optional.of(new KeyRef(UserId.of("alice"), KeyId.of("key_1"))), index.byDigest("d1"));
    assertEquals(Optional.of(new KeyRef(UserId.of("alice"), KeyId.of("key_2"))), index.byDigest("d2"));
    index.apply("alice", new UserActor.GroupsChanged(List.of("x"), T));          // not an index event
    index.apply("bob", created("key_1", "d3"));
    assertEquals(Optional.of(new KeyRef(UserId.of("bob"), KeyId.of("key_1"))), index.byDigest("d3"));
    assertEquals(Optional.empty(), index.byDigest(null));
    assertEquals(Optional.empty(), index.userOfKey(KeyId.of("key_nope")));
    index.apply("carol", created("k 1", "d4"));                                 // refused by today's rules: left out
    assertEquals(Optional.empty(), index.byDigest("d4"));
  }
}
