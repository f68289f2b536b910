package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.LoggingTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.persistence.testkit.PersistenceTestKitDurableStateStorePlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitPlugin;
import org.apache.pekko.persistence.testkit.PersistenceTestKitSnapshotPlugin;
import org.apache.pekko.persistence.testkit.javadsl.PersistenceTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.agent.testing.Await;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.testing.TestClock;
import sluice.core.user.Admission.Admitted;
import sluice.core.user.Admission.Refused;
import sluice.core.user.UserActor.Command;
import sluice.core.user.UserActor.ScopeCount;
import sluice.core.user.UserActor.WindowCount;

/**
 * Where a user's counters live: one durable-state object per user, overwritten at each checkpoint, while the journal
 * keeps only the admin events; loaded before any command is answered, written before a Stop stops the actor. The
 * failure cases run against {@link ScriptedStateStore} (the JDBC store's revision rule, failures and slow answers).
 */
@ExtendWith(LogCapturingExtension.class)
class UserCounterStorageTest {
  static final ActorTestKit testKit = ActorTestKit.create(PersistenceTestKitPlugin.getInstance().config()
      .withFallback(PersistenceTestKitSnapshotPlugin.config())
      .withFallback(PersistenceTestKitDurableStateStorePlugin.getInstance().config())
      .withFallback(ScriptedStateStore.config()).withFallback(ConfigFactory.load()));
  private static final AtomicInteger names = new AtomicInteger();
  /** 29.5 s before the minute ends (see UserActorTest). */
  private static final Instant START = Instant.parse("2024-05-14T10:20:30.500Z");
  private static final Duration WAIT = Duration.ofSeconds(5);

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private final TestClock clock = TestClock.frozen(START);
  private final String user = "counted-" + names.incrementAndGet();
  /** The stored format names the object {@code user-counters|<id>}. */
  private final String countersId = "user-counters|" + user;
  private final AtomicInteger requestIds = new AtomicInteger();
  private String store = PersistenceTestKitDurableStateStorePlugin.PluginId();

  private ActorRef<Command> spawn() {
    UserSettings settings = new UserSettings(UserLimits.NONE, List.of(), 1024, Duration.ofMinutes(15), Duration.ofMillis(50),
        Duration.ofMinutes(10), "unused", store);
    return testKit.spawn(UserActor.create(UserId.of(user), settings, KeyIndex.empty(), clock));
  }

  /** A user with key "key_1" (secret "s1") and at most {@code perMinute} requests a minute. */
  private ActorRef<Command> userWithKey(long perMinute) {
    var ref = spawn();
    var limits = new UserLimits(UserActorTest.requests(Window.MINUTE, perMinute), Map.of());
    assertInstanceOf(UserReply.Done.class, ask(ref, r -> new UserActor.CreateUser(List.of(), limits, r)));
    assertInstanceOf(UserReply.Done.class, ask(ref, r -> new UserActor.CreateKey(KeyId.of("key_1"), UserActorTest.digest("s1"),
        KeyName.NONE, null, List.of(), Limits.NONE, r)));
    return ref;
  }

  private static UserReply ask(ActorRef<Command> ref, java.util.function.Function<ActorRef<UserReply>, Command> command) {
    TestProbe<UserReply> probe = testKit.createTestProbe();
    ref.tell(command.apply(probe.getRef()));
    return probe.receiveMessage(WAIT);
  }

  private void sendAdmit(ActorRef<Command> ref, TestProbe<Admission> probe) {
    ref.tell(new UserActor.Admit("r" + requestIds.incrementAndGet(), new Credential.ApiKey(UserActorTest.digest("s1")),
        ServiceId.of("m"), 10, probe.getRef()));
  }

  private Admission admit(ActorRef<Command> ref) {
    TestProbe<Admission> probe = testKit.createTestProbe();
    sendAdmit(ref, probe);
    return probe.receiveMessage(WAIT);
  }

  private static long minuteRequests(ActorRef<Command> ref) {
    return assertInstanceOf(UserReply.Done.class, ask(ref, UserActor.GetUser::new)).user().requests().get("minute");
  }

  private static void stop(ActorRef<Command> ref) {
    ref.tell(UserActor.Stop.INSTANCE);
    testKit.createTestProbe().expectTerminated(ref, WAIT);
  }

  private GetObjectResult<Object> stored() throws Exception {
    @SuppressWarnings("unchecked")
    DurableStateUpdateStore<Object> s = DurableStateStoreRegistry.get(testKit.system()).getDurableStateStoreFor(DurableStateUpdateStore.class, store);
    return s.getObject(countersId).toCompletableFuture().get(5, TimeUnit.SECONDS);
  }

  /** The user's requests this minute in the stored object; -1 if there is none. */
  private long storedRequests() throws Exception {
    return stored().value().map(v -> userMinute(((SavedCounters) v).scopes())).orElse(-1L);
  }

  private static long userMinute(List<ScopeCount> scopes) {
    return scopes.stream().filter(sc -> sc.scope().equals("user")).flatMap(sc -> sc.windows().stream())
        .filter(w -> w.window() == Window.MINUTE).mapToLong(WindowCount::requests).sum();
  }

  private static List<ScopeCount> userCount(long requests, long tokens) {
    return List.of(new ScopeCount("user", List.of(new WindowCount(Window.MINUTE, Window.MINUTE.start(START), requests, tokens))));
  }

  private List<Object> journal() {
    return PersistenceTestKit.create(testKit.system()).persistedInStorage(UserActor.persistenceId(UserId.of(user)).id());
  }

  // ---------------------------------------------------------------- the testkit's store

  @Test void countersSurviveAStopAndOnlyCurrentWindowsAreKept() throws Exception {
    var ref = userWithKey(100);
    var cred = new Credential.ApiKey(UserActorTest.digest("s1"));
    for (String id : List.of("a", "b", "c")) {
      TestProbe<Admission> p = testKit.createTestProbe();
      ref.tell(new UserActor.Admit(id, cred, ServiceId.of("m"), 10, p.getRef()));
      assertInstanceOf(Admitted.class, p.receiveMessage(WAIT));
    }
    ref.tell(new UserActor.Settle("a", 2, 3));
    ref.tell(new UserActor.Settle("b", 2, 3));
    stop(ref);
    assertEquals(3, storedRequests(), "written before the actor stopped");

    var again = spawn();
    UserView v = assertInstanceOf(UserReply.Done.class, ask(again, UserActor.GetUser::new)).user();
    assertEquals(3, v.requests().get("minute"));
    assertEquals(20, v.tokens().get("minute"), "5 + 5 settled, 10 still reserved");
    assertEquals(0, v.inFlight(), "reservations are not saved");
    assertInstanceOf(Admitted.class, admit(again), "the keys are back too");
    stop(again);

    clock.set(Window.MINUTE.end(START));
    UserView later = assertInstanceOf(UserReply.Done.class, ask(spawn(), UserActor.GetUser::new)).user();
    assertEquals(0, later.requests().get("minute"), "the minute window has ended");
    assertEquals(4, later.requests().get("hour"));
  }

  @Test void countersChangingForManyTicksOverwriteOneObjectAndAddNoJournalEvents() throws Exception {
    var ref = userWithKey(100);
    for (int i = 1; i <= 10; i++) {
      assertInstanceOf(Admitted.class, admit(ref));
      Await.until(WAIT, "the stored object holds the count", this::storedRequests, n -> n == requestIds.get());
    }
    assertEquals(10, stored().revision(), "one write per change, each the next revision of the same object");
    assertEquals(List.of(UserActor.UserCreated.class, UserActor.KeyCreated.class),
        journal().stream().map(Object::getClass).toList(), "only the admin events are journaled");
    testKit.stop(ref, WAIT);                                   // no Stop message: what the ticks saved is all there is
    assertEquals(10, minuteRequests(spawn()));
  }

  @Test void aJournalOfThePreviousReleaseKeepsItsCountsAndTheNextCheckpointMovesThem() throws Exception {
    PersistenceTestKit.create(testKit.system()).persistForRecovery(UserActor.persistenceId(UserId.of(user)).id(), List.of(
        new UserActor.UserCreated(List.of(), "admin", UserLimits.NONE, START),
        new UserActor.KeyCreated("key_1", UserActorTest.digest("s1"), "old", START, null, List.of(), Limits.NONE),
        new UserActor.CountersSaved(userCount(2, 20), START),
        new UserActor.CountersSaved(userCount(4, 40), START)));
    var ref = spawn();
    assertEquals(4, minuteRequests(ref), "the last CountersSaved of the journal");
    assertInstanceOf(Admitted.class, admit(ref));
    Await.until(WAIT, "the counts in the durable state", this::storedRequests, n -> n == 5);
    assertEquals(4, journal().size(), "no CountersSaved is written any more");
  }

  @Test void theDurableStateWinsOverTheJournalsCountersSaved() throws Exception {
    PersistenceTestKit.create(testKit.system()).persistForRecovery(UserActor.persistenceId(UserId.of(user)).id(), List.of(
        new UserActor.UserCreated(List.of(), "admin", UserLimits.NONE, START),
        new UserActor.CountersSaved(userCount(4, 40), START)));
    @SuppressWarnings("unchecked")
    DurableStateUpdateStore<Object> s = DurableStateStoreRegistry.get(testKit.system()).getDurableStateStoreFor(DurableStateUpdateStore.class, store);
    s.upsertObject(countersId, 1, new SavedCounters(userCount(7, 70), START), "").toCompletableFuture().get(5, TimeUnit.SECONDS);
    assertEquals(7, minuteRequests(spawn()));
  }

  // ---------------------------------------------------------------- a scripted store: slow, failing

  @Test void commandsSentWhileTheCountersLoadWaitAndAreAnsweredWithTheLoadedCounts() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var first = userWithKey(3);
    for (int i = 0; i < 2; i++) assertInstanceOf(Admitted.class, admit(first));
    stop(first);

    var control = ScriptedStateStore.control(countersId);
    control.hold();
    var ref = spawn();
    TestProbe<Admission> early = testKit.createTestProbe();
    sendAdmit(ref, early);
    TestProbe<UserReply> view = testKit.createTestProbe();
    ref.tell(new UserActor.GetUser(view.getRef()));
    early.expectNoMessage(Duration.ofMillis(300));             // the counters are still loading
    control.release();
    var a = assertInstanceOf(Admitted.class, early.receiveMessage(WAIT));
    assertEquals(0, a.rate().requests().get(0).remaining(), "3 per minute: 2 loaded, this is the third");
    assertEquals(3, assertInstanceOf(UserReply.Done.class, view.receiveMessage(WAIT)).user().requests().get("minute"));
    assertInstanceOf(Refused.class, admit(ref));
  }

  @Test void aFailedLoadIsRetriedWhileCommandsWait() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var first = userWithKey(100);
    assertInstanceOf(Admitted.class, admit(first));
    stop(first);

    var control = ScriptedStateStore.control(countersId);
    int readsBefore = control.reads.get();
    control.failReads = 2;
    var ref = spawn();
    assertInstanceOf(Admitted.class, admit(ref));
    assertEquals(3, control.reads.get() - readsBefore, "two failed reads, then the one that loaded");
    assertEquals(2, minuteRequests(ref), "1 loaded + 1");
  }

  @Test void aFailedWriteIsRetriedAtTheNextTick() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var ref = userWithKey(100);
    var control = ScriptedStateStore.control(countersId);
    control.failWrites = 3;
    assertInstanceOf(Admitted.class, admit(ref));
    Await.until(WAIT, "the counts stored after three failed writes", this::storedRequests, n -> n == 1);
    assertEquals(3, control.failed.get());
  }

  @Test void aWriteAppliedButAnsweredAsFailedDoesNotLeaveLaterWritesOnAStaleRevision() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var ref = userWithKey(100);
    var control = ScriptedStateStore.control(countersId);
    control.applyButFailWrites = 1;
    assertInstanceOf(Admitted.class, admit(ref));
    Await.until(WAIT, "the lost answer", () -> control.failed.get() == 1);
    assertInstanceOf(Admitted.class, admit(ref));
    Await.until(WAIT, "the second count stored", this::storedRequests, n -> n == 2);
  }

  @Test void oneWriteAtATimeAndALateAnswerIsNotLost() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var ref = userWithKey(100);
    var control = ScriptedStateStore.control(countersId);
    control.hold();
    assertInstanceOf(Admitted.class, admit(ref));
    Await.until(WAIT, "a write under way", () -> control.writes.get() == 1);
    for (int i = 0; i < 3; i++) assertInstanceOf(Admitted.class, admit(ref));
    testKit.createTestProbe().expectNoMessage(Duration.ofMillis(300));       // six ticks while the database is slow
    assertEquals(1, control.writes.get(), "no second write while one is under way");
    control.release();
    Await.until(WAIT, "all four counted in the store", this::storedRequests, n -> n == 4);
    assertEquals(1, control.maxWritesInFlight.get());
    assertEquals(0, control.failed.get());
    assertEquals(2, ScriptedStateStore.revision(countersId), "the late answer's revision was kept: the next write followed it");
  }

  @Test void stopWaitsForTheWriteAndARestartRightAfterSeesTheCounts() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var ref = userWithKey(100);
    var control = ScriptedStateStore.control(countersId);
    control.hold();
    for (int i = 0; i < 2; i++) assertInstanceOf(Admitted.class, admit(ref));
    ref.tell(UserActor.Stop.INSTANCE);
    assertEquals(2, minuteRequests(ref), "still running: its counters are not written yet");
    control.release();
    testKit.createTestProbe().expectTerminated(ref, WAIT);
    assertEquals(2, storedRequests());
    assertEquals(2, minuteRequests(spawn()));
  }

  @Test void stopWithTheStoreDownLogsAWarningAndStops() throws Exception {
    store = ScriptedStateStore.PLUGIN_ID;
    var ref = userWithKey(100);
    var control = ScriptedStateStore.control(countersId);
    control.failWrites = Integer.MAX_VALUE;
    assertInstanceOf(Admitted.class, admit(ref));
    LoggingTestKit.warn("stopping without saving the counters of user " + user).expect(testKit.system(), () -> {
      stop(ref);
      return null;
    });
    assertTrue(control.failed.get() >= 1);
  }
}
