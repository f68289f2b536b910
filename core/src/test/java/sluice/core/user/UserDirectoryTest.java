package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.PersistenceTestKitDurableStateStorePlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.testing.TestClock;

/** The edge's facade on a one-node cluster: sharding, validation before any ask, revocation through the index. */
@ExtendWith(LogCapturingExtension.class)
class UserDirectoryTest {
  static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString("""
          pekko.actor.provider = cluster
          pekko.remote.artery.canonical { hostname = "127.0.0.1", port = 0 }
          pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
          pekko.cluster.sharding { remember-entities = on, remember-entities-store = eventsourced }
          """)
      .withFallback(PersistenceTestKitPlugin.getInstance().config())
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(PersistenceTestKitDurableStateStorePlugin.getInstance().config()).withFallback(ConfigFactory.load()));
  private static final TestClock clock = TestClock.frozen(Instant.parse("2024-05-14T10:20:30Z"));
  private static final KeyIndex index = KeyIndex.empty();
  private static UserDirectory users;

  @BeforeAll static void start() {
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    UserSettings settings = new UserSettings(UserLimits.NONE, List.of(), 1024, Duration.ofMinutes(15), Duration.ofMillis(100),
        Duration.ofMinutes(10), "unused", PersistenceTestKitDurableStateStorePlugin.PluginId());
    users = UserDirectory.start(testKit.system(), settings, index, clock, Duration.ofSeconds(10), Duration.ofSeconds(10));
  }

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private static <T> T get(CompletionStage<T> stage) throws Exception { return stage.toCompletableFuture().get(15, TimeUnit.SECONDS); }

  private static final UserId CAROL = UserId.of("carol");
  private static final ServiceId M = ServiceId.of("m");

  @Test void createAKeyAdmitWithItAndRevokeItByKeyId() throws Exception {
    assertInstanceOf(UserReply.Done.class, get(users.create(CAROL, UserActorTest.groups("staff"),
        new UserLimits(UserActorTest.requests(Window.MINUTE, 2), Map.of()))));
    String digest = UserActorTest.digest("carol-secret");
    KeyId key = KeyId.of("key_carol1");
    var created = assertInstanceOf(UserReply.Done.class,
        get(users.createKey(CAROL, key, digest, KeyName.of("ci"), null, List.of(), Limits.NONE))).user();
    assertEquals("key_carol1", created.keys().get(0).id());
    assertEquals(Optional.of(new KeyRef(CAROL, key)), users.keyByDigest(digest));
    assertTrue(users.userIds().contains(CAROL));

    var a = assertInstanceOf(Admission.Admitted.class, get(users.admit(CAROL, "r1", new Credential.ApiKey(digest), M, 10)));
    assertEquals(1, a.rate().requests().get(0).remaining());
    users.settle(CAROL, "r1", 3, 4);
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      var v = assertInstanceOf(UserReply.Done.class, get(users.get(CAROL))).user();
      assertEquals(7, v.tokens().get("minute"));
      assertEquals(0, v.inFlight());
      return null;
    });

    var updated = assertInstanceOf(UserReply.Done.class, get(users.update(CAROL, Optional.empty(), Optional.of(UserLimits.NONE)))).user();
    assertEquals(UserLimits.NONE, updated.limits());

    var revoked = assertInstanceOf(UserReply.Done.class, get(users.revokeKey(key))).user();
    assertTrue(revoked.keys().get(0).revokedAt() != null);
    assertEquals(Optional.of(new KeyRef(CAROL, key)), users.keyByDigest(digest), "still leads to its user");
    assertEquals(AdmissionRefusal.KEY_REVOKED, assertInstanceOf(Admission.Refused.class,
        get(users.admit(CAROL, "r2", new Credential.ApiKey(digest), M, 10))).reason());
  }

  @Test void unknownThingsAreRefusedWithTheirCodes() throws Exception {
    assertEquals("key_not_found", assertInstanceOf(UserReply.Refused.class, get(users.revokeKey(KeyId.of("key_nobody"))))
        .reason().label());
    assertEquals("user_not_found", assertInstanceOf(UserReply.Refused.class, get(users.get(UserId.of("nobody")))).reason().label());
  }

  @Test void invalidInputIsRefusedWithAMessageWithoutAnAsk() throws Exception {
    var badUser = assertThrows(IllegalArgumentException.class, () -> UserId.of("no spaces"));
    assertTrue(badUser.getMessage().contains("invalid user id 'no spaces'"), badUser.getMessage());
    UserId dave = UserId.of("dave");
    var badDigest = assertInstanceOf(UserReply.Refused.class,
        get(users.createKey(dave, KeyId.of("key_1"), "not-hex", KeyName.NONE, null, List.of(), Limits.NONE)));
    assertEquals("invalid_request", badDigest.reason().label());
    assertTrue(badDigest.message().contains("SHA-256"), badDigest.message());
    var badKeyId = assertThrows(IllegalArgumentException.class, () -> KeyId.of("key 1"));
    assertTrue(badKeyId.getMessage().contains("invalid key id"), badKeyId.getMessage());
    assertThrows(IllegalArgumentException.class, () -> GroupName.of(" "));
    assertThrows(IllegalArgumentException.class, () -> ServiceId.of("bad model"));

    var badReserve = assertInstanceOf(Admission.Refused.class, get(users.admit(dave, "r1", new Credential.ApiKey("d"), M, -1)));
    assertEquals(AdmissionRefusal.INVALID_REQUEST, badReserve.reason());
    assertTrue(badReserve.message().contains("reserved tokens"), badReserve.message());
    var badRequestId = assertInstanceOf(Admission.Refused.class, get(users.admit(dave, "", new Credential.ApiKey("d"), M, 1)));
    assertEquals(AdmissionRefusal.INVALID_REQUEST, badRequestId.reason());
  }

  @Test void usersAreNotRememberedEvenWhenTheGatewayRemembersEntities() {
    // The gateway turns remember-entities on for every region (services must come back after a restart); this test's
    // system does the same. A region built from the global settings remembers; the users' region must not.
    assertTrue(ClusterShardingSettings.create(testKit.system()).rememberEntities(), "the global setting is on here");
    assertFalse(UserDirectory.shardingSettings(testKit.system()).rememberEntities());
  }
}
