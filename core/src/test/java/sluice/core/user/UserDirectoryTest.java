package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
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
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;

/** The edge's facade on a one-node cluster: sharding, validation before any ask, revocation through the index. */
@ExtendWith(LogCapturingExtension.class)
class UserDirectoryTest {
  static final ActorTestKit testKit = ActorTestKit.create(ConfigFactory.parseString("""
          pekko.actor.provider = cluster
          pekko.remote.artery.canonical { hostname = "127.0.0.1", port = 0 }
          pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
          """)
      .withFallback(PersistenceTestKitPlugin.getInstance().config())
      .withFallback(PersistenceTestKitSnapshotPlugin.config()).withFallback(ConfigFactory.load()));
  private static final TestClock clock = new TestClock(Instant.parse("2024-05-14T10:20:30Z"));
  private static final KeyIndex index = KeyIndex.empty();
  private static UserDirectory users;

  @BeforeAll static void start() {
    Cluster cluster = Cluster.get(testKit.system());
    cluster.manager().tell(Join.create(cluster.selfMember().address()));
    UserSettings settings = new UserSettings(UserLimits.NONE, List.of(), 1024, Duration.ofMinutes(15), Duration.ofMillis(100),
        Duration.ofMinutes(10), "unused");
    users = UserDirectory.start(testKit.system(), settings, index, clock, Duration.ofSeconds(10));
  }

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private static <T> T get(CompletionStage<T> stage) throws Exception { return stage.toCompletableFuture().get(15, TimeUnit.SECONDS); }

  @Test void createAKeyAdmitWithItAndRevokeItByKeyId() throws Exception {
    assertInstanceOf(UserReply.Done.class, get(users.create("carol", List.of("staff"),
        new UserLimits(UserActorTest.requests(Window.MINUTE, 2), Map.of()))));
    String digest = UserActorTest.digest("carol-secret");
    var created = assertInstanceOf(UserReply.Done.class,
        get(users.createKey("carol", "key_carol1", digest, "ci", null, List.of(), Limits.NONE))).user();
    assertEquals("key_carol1", created.keys().get(0).id());
    assertEquals(Optional.of(new KeyRef("carol", "key_carol1")), users.keyByDigest(digest));
    assertTrue(users.userIds().contains("carol"));

    var a = assertInstanceOf(Admission.Admitted.class, get(users.admit("carol", "r1", new Credential.ApiKey(digest), "m", 10)));
    assertEquals(1, a.rate().requests().get(0).remaining());
    users.settle("carol", "r1", 3, 4);
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      var v = assertInstanceOf(UserReply.Done.class, get(users.get("carol"))).user();
      assertEquals(7, v.tokens().get("minute"));
      assertEquals(0, v.inFlight());
      return null;
    });

    var updated = assertInstanceOf(UserReply.Done.class, get(users.update("carol", Optional.empty(), Optional.of(UserLimits.NONE)))).user();
    assertEquals(UserLimits.NONE, updated.limits());

    var revoked = assertInstanceOf(UserReply.Done.class, get(users.revokeKey("key_carol1"))).user();
    assertTrue(revoked.keys().get(0).revokedAt() != null);
    assertEquals(Optional.of(new KeyRef("carol", "key_carol1")), users.keyByDigest(digest), "still leads to its user");
    assertEquals("key_revoked", assertInstanceOf(Admission.Refused.class,
        get(users.admit("carol", "r2", new Credential.ApiKey(digest), "m", 10))).code());
  }

  @Test void unknownThingsAreRefusedWithTheirCodes() throws Exception {
    assertEquals("key_not_found", assertInstanceOf(UserReply.Refused.class, get(users.revokeKey("key_nobody"))).code());
    assertEquals("user_not_found", assertInstanceOf(UserReply.Refused.class, get(users.get("nobody"))).code());
  }

  @Test void invalidInputIsRefusedWithAMessageWithoutAnAsk() throws Exception {
    var badUser = assertInstanceOf(UserReply.Refused.class, get(users.create("no spaces", List.of(), UserLimits.NONE)));
    assertEquals("invalid_request", badUser.code());
    assertTrue(badUser.message().contains("invalid user id 'no spaces'"), badUser.message());
    var badDigest = assertInstanceOf(UserReply.Refused.class, get(users.createKey("dave", "key_1", "not-hex", "", null, List.of(), Limits.NONE)));
    assertTrue(badDigest.message().contains("SHA-256"), badDigest.message());
    var badKeyId = assertInstanceOf(UserReply.Refused.class,
        get(users.createKey("dave", "key 1", UserActorTest.digest("x"), "", null, List.of(), Limits.NONE)));
    assertTrue(badKeyId.message().contains("invalid key id"), badKeyId.message());
    var badGroup = assertInstanceOf(UserReply.Refused.class, get(users.update("dave", Optional.of(List.of(" ")), Optional.empty())));
    assertEquals("invalid_request", badGroup.code());

    var badModel = assertInstanceOf(Admission.Refused.class, get(users.admit("dave", "r1", new Credential.ApiKey("d"), "bad model", 1)));
    assertEquals(400, badModel.status());
    assertTrue(badModel.message().contains("invalid model id"), badModel.message());
    var badReserve = assertInstanceOf(Admission.Refused.class, get(users.admit("dave", "r1", new Credential.ApiKey("d"), "m", -1)));
    assertEquals(400, badReserve.status());
    var badAdmitUser = assertInstanceOf(Admission.Refused.class, get(users.admit("", "r1", new Credential.ApiKey("d"), "m", 1)));
    assertEquals(400, badAdmitUser.status());
  }
}
