package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.persistence.testkit.PersistenceTestKitDurableStateStorePlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.query.javadsl.PersistenceTestKitReadJournal;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sluice.core.testing.TestClock;
import sluice.core.user.Admission.Admitted;
import sluice.core.user.Admission.Refused;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.user.UserActor.Command;

@ExtendWith(LogCapturingExtension.class)
class UserActorTest {
  static final ActorTestKit testKit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(PersistenceTestKitDurableStateStorePlugin.getInstance().config()).withFallback(ConfigFactory.load()));
  private static final AtomicInteger names = new AtomicInteger();
  /** 29.5 s before the minute ends; the hour, day and month end later (see WindowTest). */
  private static final Instant START = Instant.parse("2024-05-14T10:20:30.500Z");

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private final TestClock clock = TestClock.frozen(START);
  private final KeyIndex index = KeyIndex.empty();
  private final String user = "user-" + names.incrementAndGet();
  private final AtomicInteger requestIds = new AtomicInteger();

  private static UserSettings settings(UserLimits defaults, List<UserSettings.Group> groups) {
    return new UserSettings(defaults, groups, 1024, Duration.ofMinutes(15), Duration.ofMillis(50), Duration.ofMinutes(10), "unused",
        PersistenceTestKitDurableStateStorePlugin.PluginId());
  }

  private UserSettings settings = settings(UserLimits.NONE, List.of());

  static String digest(String secret) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(secret.getBytes(StandardCharsets.UTF_8)));
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  static Limits requests(Window w, long n) { return new Limits(Map.of(w, n), Map.of(), null); }

  static Limits tokens(Window w, long n) { return new Limits(Map.of(), Map.of(w, n), null); }

  static Limits concurrent(int n) { return new Limits(Map.of(), Map.of(), n); }

  private ActorRef<Command> spawn() { return testKit.spawn(UserActor.create(UserId.of(user), settings, index, clock)); }

  static List<GroupName> groups(String... names) { return java.util.Arrays.stream(names).map(GroupName::of).toList(); }

  private static UserReply revoke(ActorRef<Command> ref, String keyId) {
    return ask(ref, r -> new UserActor.RevokeKey(KeyId.of(keyId), r));
  }

  private static UserReply ask(ActorRef<Command> ref, Function<ActorRef<UserReply>, Command> command) {
    TestProbe<UserReply> probe = testKit.createTestProbe();
    ref.tell(command.apply(probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(5));
  }

  private static UserView done(UserReply reply) { return assertInstanceOf(UserReply.Done.class, reply).user(); }

  private static UserView create(ActorRef<Command> ref, List<String> groups, UserLimits limits) {
    return done(ask(ref, r -> new UserActor.CreateUser(groups.stream().map(GroupName::of).toList(), limits, r)));
  }

  private static UserView view(ActorRef<Command> ref) { return done(ask(ref, UserActor.GetUser::new)); }

  private static UserReply createKey(ActorRef<Command> ref, String keyId, String secret, List<String> models, Limits limits, Instant expiresAt) {
    return ask(ref, r -> new UserActor.CreateKey(KeyId.of(keyId), digest(secret), KeyName.of("test key"), expiresAt,
        models.stream().map(ServiceId::of).toList(), limits, r));
  }

  private Admission admit(ActorRef<Command> ref, String requestId, Credential credential, String model, long reserve) {
    TestProbe<Admission> probe = testKit.createTestProbe();
    ref.tell(new UserActor.Admit(requestId, credential, ServiceId.of(model), reserve, probe.getRef()));
    return probe.receiveMessage(Duration.ofSeconds(5));
  }

  private Admission admit(ActorRef<Command> ref, String secret, String model, long reserve) {
    return admit(ref, "req-" + requestIds.incrementAndGet(), new Credential.ApiKey(digest(secret)), model, reserve);
  }

  /** A user with one key "key_1" (secret "s1") and these limits of its own. */
  private ActorRef<Command> userWithKey(UserLimits limits) {
    var ref = spawn();
    create(ref, List.of(), limits);
    done(createKey(ref, "key_1", "s1", List.of(), Limits.NONE, null));
    return ref;
  }

  private static UserLimits userLimits(Limits l) { return new UserLimits(l, Map.of()); }

  // ---------------------------------------------------------------- credentials

  @Test void aKeyIsAcceptedAndNamedInTheAdmission() {
    var ref = userWithKey(UserLimits.NONE);
    var a = assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 10));
    assertEquals(user, a.userId());
    assertEquals("key_1", a.keyId());
    assertEquals(RateInfo.NONE.requests(), a.rate().requests());
    assertEquals(1, view(ref).inFlight());
  }

  @Test void anUnknownKeyOrUserIsRefusedAs401() {
    var ref = userWithKey(UserLimits.NONE);
    var r = assertInstanceOf(Refused.class, admit(ref, "not-the-secret", "m", 10));
    assertEquals(AdmissionRefusal.UNKNOWN_KEY, r.reason());
    assertEquals("Incorrect API key provided", r.message());
    assertEquals(-1, r.retryAfterSeconds());

    var nobody = testKit.spawn(UserActor.create(UserId.of("nobody-" + user), settings, index, clock));
    assertEquals(AdmissionRefusal.UNKNOWN_KEY, assertInstanceOf(Refused.class, admit(nobody, "s1", "m", 10)).reason());
    assertEquals("user_not_found", assertInstanceOf(UserReply.Refused.class, ask(nobody, UserActor.GetUser::new)).reason().label());
  }

  @Test void aRevokedKeyIsRefusedAndRevokingTwiceKeepsTheFirstTime() {
    var ref = userWithKey(UserLimits.NONE);
    Instant first = clock.instant();
    done(revoke(ref, "key_1"));
    clock.advance(Duration.ofMinutes(1));
    UserView again = done(revoke(ref, "key_1"));
    assertEquals(first, again.keys().get(0).revokedAt());
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "m", 10));
    assertEquals(AdmissionRefusal.KEY_REVOKED, r.reason());
    assertEquals("key_1", r.keyId());
    assertEquals("key_not_found", assertInstanceOf(UserReply.Refused.class, revoke(ref, "key_9")).reason().label());
  }

  @Test void anExpiredKeyIsRefused() {
    var ref = spawn();
    create(ref, List.of(), UserLimits.NONE);
    done(createKey(ref, "key_1", "s1", List.of(), Limits.NONE, START.plus(Duration.ofHours(1))));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 10));
    clock.advance(Duration.ofHours(1));
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "m", 10));
    assertEquals(AdmissionRefusal.KEY_EXPIRED, r.reason());
    assertEquals("invalid_request", assertInstanceOf(UserReply.Refused.class,
        createKey(ref, "key_2", "s2", List.of(), Limits.NONE, clock.instant())).reason().label(), "a key cannot expire in the past");
  }

  @Test void aKeyLimitedToModelsRefusesOthersWith403() {
    var ref = spawn();
    create(ref, List.of(), UserLimits.NONE);
    done(createKey(ref, "key_1", "s1", List.of("small"), Limits.NONE, null));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "small", 10));
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "big", 10));
    assertEquals(AdmissionRefusal.MODEL_NOT_ALLOWED, r.reason());
    assertTrue(r.message().contains("big"), r.message());
  }

  @Test void duplicateKeysAndUsersAreRefused() {
    var ref = userWithKey(UserLimits.NONE);
    assertEquals("user_exists", assertInstanceOf(UserReply.Refused.class,
        ask(ref, r -> new UserActor.CreateUser(List.of(), UserLimits.NONE, r))).reason().label());
    assertEquals("key_exists", assertInstanceOf(UserReply.Refused.class, createKey(ref, "key_1", "other", List.of(), Limits.NONE, null)).reason().label());
    assertEquals("key_exists", assertInstanceOf(UserReply.Refused.class, createKey(ref, "key_2", "s1", List.of(), Limits.NONE, null)).reason().label());
    var nobody = testKit.spawn(UserActor.create(UserId.of("nobody-" + user), settings, index, clock));
    assertEquals("user_not_found", assertInstanceOf(UserReply.Refused.class, createKey(nobody, "key_3", "s3", List.of(), Limits.NONE, null)).reason().label());
  }

  // ---------------------------------------------------------------- windows

  @ParameterizedTest(name = "{0}")
  @CsvSource({"minute, 30", "hour, 2370", "day, 49170", "month, 1517970"})
  void theRequestAboveAWindowsLimitIsRefusedUntilTheWindowEnds(String label, long retryAfter) {
    Window w = Window.fromLabel(label);
    var ref = userWithKey(userLimits(requests(w, 2)));
    for (int i = 0; i < 2; i++) {
      var a = assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 10));
      assertEquals(1 - i, a.rate().requests().get(0).remaining());
    }
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "m", 10));
    assertEquals(AdmissionRefusal.REQUEST_RATE_LIMIT, r.reason());
    assertEquals(retryAfter, r.retryAfterSeconds());
    assertEquals("Rate limit reached: 2 requests per " + label + " for user " + user + "; retry in " + retryAfter + " s", r.message());
    assertEquals(List.of(new RateInfo.WindowState(w, 2, 0, w.end(START))), r.rate().requests());
    clock.set(w.end(START));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 10));
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({"minute, 30, TOKEN_RATE_LIMIT", "hour, 2370, TOKEN_RATE_LIMIT", "day, 49170, TOKEN_BUDGET",
      "month, 1517970, TOKEN_BUDGET"})
  void tokensAboveAWindowsLimitAreRefusedUntilTheWindowEnds(String label, long retryAfter, AdmissionRefusal reason) {
    Window w = Window.fromLabel(label);
    var ref = userWithKey(userLimits(tokens(w, 1000)));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 600));
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "m", 600));
    assertEquals(reason, r.reason());
    assertEquals(retryAfter, r.retryAfterSeconds());
    assertTrue(r.message().contains("1000 tokens per " + label + " for user " + user + " (600 used, 600 requested)"), r.message());
    assertEquals(List.of(new RateInfo.WindowState(w, 1000, 400, w.end(START))), r.rate().tokens());
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 400), "what is left still fits");
    clock.set(w.end(START));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 600));
  }

  @Test void aLimitOfZeroRefusesEverythingUntilTheWindowEnds() {
    var ref = userWithKey(userLimits(new Limits(Map.of(Window.MINUTE, 0L), Map.of(Window.HOUR, 0L), null)));
    var r = assertInstanceOf(Refused.class, admit(ref, "s1", "m", 1));
    assertEquals(2370, r.retryAfterSeconds(), "the hour's token limit is the one to wait for");
    assertEquals(AdmissionRefusal.TOKEN_RATE_LIMIT, r.reason());
  }

  @Test void settlingReplacesTheReservationWithTheRealUsage() {
    var ref = userWithKey(userLimits(tokens(Window.MINUTE, 1000)));
    var a = assertInstanceOf(Admitted.class, admit(ref, "r1", new Credential.ApiKey(digest("s1")), "m", 600));
    assertEquals(400, a.rate().tokens().get(0).remaining());
    ref.tell(new UserActor.Settle("r1", 50, 50));
    var b = assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 500));
    assertEquals(400, b.rate().tokens().get(0).remaining(), "1000 - 100 used - 500 reserved");
    assertInstanceOf(Refused.class, admit(ref, "s1", "m", 500));
    UserView v = view(ref);
    assertEquals(600, v.tokens().get("minute"));
    assertEquals(2, v.requests().get("minute"));
    assertEquals(1, v.inFlight());
    ref.tell(new UserActor.Settle("r1", 999, 999));                  // settled already: ignored
    ref.tell(new UserActor.Settle("unknown", 999, 999));
    assertEquals(600, view(ref).tokens().get("minute"));
  }

  @Test void aSettleAfterTheWindowRolledOverCountsOnlyTheRealUsageInTheNewWindow() {
    var ref = userWithKey(userLimits(tokens(Window.MINUTE, 1000)));
    assertInstanceOf(Admitted.class, admit(ref, "r1", new Credential.ApiKey(digest("s1")), "m", 600));
    clock.set(Window.MINUTE.end(START));
    ref.tell(new UserActor.Settle("r1", 30, 70));
    UserView v = view(ref);
    assertEquals(100, v.tokens().get("minute"));
    assertEquals(100, v.tokens().get("hour"), "the hour still holds the reservation, replaced by the real usage");
  }

  @Test void aMaxTokensAboveTheLimitIsAdmittedInAFreshWindowOnly() {
    var ref = userWithKey(userLimits(tokens(Window.MINUTE, 1000)));
    var a = assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 5000));
    assertEquals(0, a.rate().tokens().get(0).remaining());
    assertInstanceOf(Refused.class, admit(ref, "s1", "m", 1));
  }

  @Test void concurrencyIsLimitedUntilARequestSettles() {
    var ref = userWithKey(userLimits(concurrent(2)));
    var cred = new Credential.ApiKey(digest("s1"));
    assertInstanceOf(Admitted.class, admit(ref, "a", cred, "m", 1));
    var b = assertInstanceOf(Admitted.class, admit(ref, "b", cred, "m", 1));
    assertEquals(2, b.rate().concurrentLimit());
    assertEquals(2, b.rate().inFlight());
    var r = assertInstanceOf(Refused.class, admit(ref, "c", cred, "m", 1));
    assertEquals(AdmissionRefusal.CONCURRENCY_LIMIT, r.reason());
    assertEquals(1, r.retryAfterSeconds());
    assertEquals("Concurrency limit reached: 2 requests in flight for user " + user + "; retry in 1 s", r.message());
    ref.tell(new UserActor.Settle("a", 1, 1));
    assertInstanceOf(Admitted.class, admit(ref, "c", cred, "m", 1));
  }

  @Test void aRepeatedAdmitIsNotCountedTwice() {
    var ref = userWithKey(userLimits(requests(Window.MINUTE, 1)));
    var cred = new Credential.ApiKey(digest("s1"));
    assertInstanceOf(Admitted.class, admit(ref, "a", cred, "m", 1));
    assertInstanceOf(Admitted.class, admit(ref, "a", cred, "m", 1));
    assertEquals(1, view(ref).requests().get("minute"));
  }

  // ---------------------------------------------------------------- scopes

  @Test void keyAndModelLimitsCountSeparatelyFromTheUser() {
    var ref = spawn();
    create(ref, List.of(), new UserLimits(Limits.NONE, Map.of("m1", requests(Window.MINUTE, 1))));
    done(createKey(ref, "key_1", "s1", List.of(), requests(Window.MINUTE, 1), null));
    done(createKey(ref, "key_2", "s2", List.of(), Limits.NONE, null));

    assertInstanceOf(Admitted.class, admit(ref, "s1", "m2", 1));
    var byKey = assertInstanceOf(Refused.class, admit(ref, "s1", "m2", 1));
    assertTrue(byKey.message().contains("for key key_1"), byKey.message());
    assertInstanceOf(Admitted.class, admit(ref, "s2", "m2", 1), "the other key has its own counters");

    assertInstanceOf(Admitted.class, admit(ref, "s2", "m1", 1));
    var byModel = assertInstanceOf(Refused.class, admit(ref, "s2", "m1", 1));
    assertTrue(byModel.message().contains("for user " + user + " on model m1"), byModel.message());
    assertInstanceOf(Admitted.class, admit(ref, "s2", "m2", 1), "another model is not limited");
    assertEquals(4, view(ref).requests().get("minute"), "the user's counters count every admitted request");
  }

  @Test void rateInfoReportsTheScopeWithTheFewestRemainingPerWindow() {
    var ref = spawn();
    create(ref, List.of(), new UserLimits(new Limits(Map.of(Window.MINUTE, 10L, Window.DAY, 100L), Map.of(), 5),
        Map.of("m", requests(Window.MINUTE, 3))));
    done(createKey(ref, "key_1", "s1", List.of(), new Limits(Map.of(), Map.of(), 2), null));
    var a = assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 1));
    Instant minuteEnd = Window.MINUTE.end(START);
    assertEquals(List.of(new RateInfo.WindowState(Window.MINUTE, 3, 2, minuteEnd),
        new RateInfo.WindowState(Window.DAY, 100, 99, Window.DAY.end(START))), a.rate().requests());
    assertEquals(2, a.rate().concurrentLimit(), "the key's concurrency limit is the tightest");
    assertEquals(1, a.rate().inFlight());
  }

  // ---------------------------------------------------------------- groups and overrides

  private static final List<UserSettings.Group> GROUPS = List.of(
      new UserSettings.Group(GroupName.of("staff"), userLimits(requests(Window.MINUTE, 3))),
      new UserSettings.Group(GroupName.of("students"), new UserLimits(new Limits(Map.of(Window.MINUTE, 1L), Map.of(Window.DAY, 1000L), null), Map.of())));

  @Test void usersGetTheirFirstConfiguredGroupsLimitsElseTheDefaults() {
    settings = settings(userLimits(requests(Window.MINUTE, 2)), GROUPS);
    var ref = spawn();
    UserView v = create(ref, List.of("students", "staff"), UserLimits.NONE);
    assertEquals(3L, v.effective().user().requests().get(Window.MINUTE), "staff comes first in the config");
    done(createKey(ref, "key_1", "s1", List.of(), Limits.NONE, null));
    for (int i = 0; i < 3; i++) assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 1));
    assertInstanceOf(Refused.class, admit(ref, "s1", "m", 1));

    UserView other = done(ask(ref, r -> new UserActor.UpdateUser(Optional.of(groups("guests")), Optional.empty(), r)));
    assertEquals(2L, other.effective().user().requests().get(Window.MINUTE), "in no configured group: the defaults");
    assertEquals(List.of("guests"), view(ref).groups());
  }

  @Test void anAdminOverrideBeatsTheGroupDefaultEntryByEntry() {
    settings = settings(UserLimits.NONE, GROUPS);
    var ref = spawn();
    create(ref, List.of("students"), userLimits(requests(Window.MINUTE, 5)));
    done(createKey(ref, "key_1", "s1", List.of(), Limits.NONE, null));
    UserView v = view(ref);
    assertEquals(5L, v.effective().user().requests().get(Window.MINUTE));
    assertEquals(1000L, v.effective().user().tokens().get(Window.DAY), "what the override leaves out comes from the group");
    assertEquals(userLimits(requests(Window.MINUTE, 5)), v.limits());
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 1));
    assertInstanceOf(Admitted.class, admit(ref, "s1", "m", 1), "the group alone would refuse this one");

    done(ask(ref, r -> new UserActor.UpdateUser(Optional.empty(), Optional.of(UserLimits.NONE), r)));
    assertInstanceOf(Refused.class, admit(ref, "s1", "m", 1), "without the override the group's limit applies");
  }

  @Test void aTrustedIdentityCreatesItsUserOnFirstSightWithItsGroupsLimits() {
    settings = settings(UserLimits.NONE, GROUPS);
    var ref = spawn();
    var cred = new Credential.Trusted("oidc:https://issuer", "oidc", groups("students"));
    var a = assertInstanceOf(Admitted.class, admit(ref, "r1", cred, "m", 1));
    assertEquals("oidc:https://issuer", a.keyId());
    var r = assertInstanceOf(Refused.class, admit(ref, "r2", cred, "m", 1));
    assertEquals("oidc:https://issuer", r.keyId());
    UserView v = view(ref);
    assertEquals("oidc", v.source());
    assertEquals(List.of("students"), v.groups());
    assertNotNull(v.createdAt());
    assertEquals(List.of(UserId.of(user)), index.users());

    var promoted = new Credential.Trusted("oidc:https://issuer", "oidc", groups("staff"));
    assertInstanceOf(Admitted.class, admit(ref, "r3", promoted, "m", 1), "new groups from the token apply at once");
    assertEquals(List.of("staff"), view(ref).groups());
  }

  // ---------------------------------------------------------------- sweeping and passivation (storage: UserCounterStorageTest)

  @Test void aReservationNeverSettledStopsCountingAsInFlightAfterTheTimeout() {
    var ref = userWithKey(userLimits(concurrent(1)));
    var cred = new Credential.ApiKey(digest("s1"));
    assertInstanceOf(Admitted.class, admit(ref, "lost", cred, "m", 100));
    assertInstanceOf(Refused.class, admit(ref, "b", cred, "m", 100));
    clock.advance(Duration.ofMinutes(15));
    AtomicInteger attempt = new AtomicInteger();
    testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
      assertInstanceOf(Admitted.class, admit(ref, "retry-" + attempt.incrementAndGet(), cred, "m", 100));
      return null;
    });
    assertEquals(200, view(ref).tokens().get("hour"), "the lost request's reserved tokens stay counted");
  }

  @Test void anIdleActorAsksItsShardToPassivateItOnlyWithNothingInFlight() {
    TestProbe<ClusterSharding.ShardCommand> shard = testKit.createTestProbe();
    var ref = testKit.spawn(UserActor.create(UserId.of(user), settings, index, clock, shard.getRef()));
    create(ref, List.of(), UserLimits.NONE);
    done(createKey(ref, "key_1", "s1", List.of(), Limits.NONE, null));
    assertInstanceOf(Admitted.class, admit(ref, "a", new Credential.ApiKey(digest("s1")), "m", 10));
    clock.advance(Duration.ofMinutes(11));
    shard.expectNoMessage(Duration.ofMillis(300));             // a request is in flight
    ref.tell(new UserActor.Settle("a", 1, 1));
    view(ref);
    clock.advance(Duration.ofMinutes(11));
    var passivate = assertInstanceOf(ClusterSharding.Passivate.class, shard.receiveMessage(Duration.ofSeconds(5)));
    assertEquals(ref, passivate.entity());
    ref.tell(UserActor.Stop.INSTANCE);
    testKit.createTestProbe().expectTerminated(ref, Duration.ofSeconds(5));
    assertEquals(2, view(spawn()).tokens().get("day"), "the stop saved the counters");
  }

  // ---------------------------------------------------------------- key index

  @Test void theLocalKeyIndexFollowsCreationAndRevocationBeforeTheReply() {
    var ref = userWithKey(UserLimits.NONE);
    assertEquals(Optional.of(new KeyRef(UserId.of(user), KeyId.of("key_1"))), index.byDigest(digest("s1")));
    assertEquals(List.of(UserId.of(user)), index.users());
    done(revoke(ref, "key_1"));
    assertEquals(Optional.of(new KeyRef(UserId.of(user), KeyId.of("key_1"))), index.byDigest(digest("s1")), "kept, so the actor can say 'revoked'");
    assertEquals(Optional.of(UserId.of(user)), index.userOfKey(KeyId.of("key_1")));
  }

  @Test void aLoadedKeyIndexReplaysTheJournalAndFollowsNewKeys() throws Exception {
    var ref = spawn();
    create(ref, List.of(), UserLimits.NONE);
    String s1 = user + "-s1", s2 = user + "-s2", s3 = user + "-s3";       // other tests' users share the journal
    done(createKey(ref, "key_" + user + "-1", s1, List.of(), Limits.NONE, null));
    done(createKey(ref, "key_" + user + "-2", s2, List.of(), Limits.NONE, null));
    done(revoke(ref, "key_" + user + "-2"));
    KeyIndex loaded = KeyIndex.load(testKit.system(), PersistenceTestKitReadJournal.Identifier())
        .toCompletableFuture().get(10, java.util.concurrent.TimeUnit.SECONDS);
    try {
      assertEquals(Optional.of(new KeyRef(UserId.of(user), KeyId.of("key_" + user + "-1"))), loaded.byDigest(digest(s1)));
      assertEquals(Optional.of(new KeyRef(UserId.of(user), KeyId.of("key_" + user + "-2"))), loaded.byDigest(digest(s2)), "revoked keys are kept");
      assertEquals(Optional.of(UserId.of(user)), loaded.userOfKey(KeyId.of("key_" + user + "-2")));
      assertTrue(loaded.users().contains(UserId.of(user)));

      done(createKey(ref, "key_" + user + "-3", s3, List.of(), Limits.NONE, null));      // written after the replay
      testKit.createTestProbe().awaitAssert(Duration.ofSeconds(5), () -> {
        assertEquals(Optional.of(new KeyRef(UserId.of(user), KeyId.of("key_" + user + "-3"))), loaded.byDigest(digest(s3)));
        return null;
      });
    } finally {
      loaded.close();
    }
  }

  // ---------------------------------------------------------------- the single writer

  @Test void parallelAdmitsNeverExceedTheConcurrencyOrRequestLimit() throws Exception {
    var ref = userWithKey(userLimits(concurrent(7)));
    var cred = new Credential.ApiKey(digest("s1"));
    List<String> admitted = burst(ref, cred, "first", 100);
    assertEquals(7, admitted.size());
    admitted.forEach(id -> ref.tell(new UserActor.Settle(id, 1, 1)));
    done(ask(ref, r -> new UserActor.UpdateUser(Optional.empty(),
        Optional.of(userLimits(new Limits(Map.of(Window.MINUTE, 20L), Map.of(), null))), r)));
    assertEquals(13, burst(ref, cred, "second", 100).size(), "20 per minute, 7 used");
  }

  /** Sends {@code n} admits from four threads at once; returns the ids admitted. */
  private List<String> burst(ActorRef<Command> ref, Credential cred, String prefix, int n) throws InterruptedException {
    List<TestProbe<Admission>> probes = new ArrayList<>();
    for (int i = 0; i < n; i++) probes.add(testKit.createTestProbe());
    CountDownLatch go = new CountDownLatch(1);
    List<Thread> threads = new ArrayList<>();
    for (int t = 0; t < 4; t++) {
      int from = t;
      Thread thread = new Thread(() -> {
        try {
          go.await();
        } catch (InterruptedException e) {
          return;
        }
        for (int i = from; i < n; i += 4) ref.tell(new UserActor.Admit(prefix + "-" + i, cred, ServiceId.of("m"), 1, probes.get(i).getRef()));
      });
      thread.start();
      threads.add(thread);
    }
    go.countDown();
    for (Thread t : threads) t.join();
    List<String> admitted = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      if (probes.get(i).receiveMessage(Duration.ofSeconds(5)) instanceof Admitted) admitted.add(prefix + "-" + i);
    }
    return admitted;
  }
}
