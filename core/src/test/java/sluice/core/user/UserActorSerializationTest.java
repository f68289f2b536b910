package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.LogCapturingExtension;
import org.apache.pekko.actor.testkit.typed.javadsl.SerializationTestKit;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.testkit.PersistenceTestKitDurableStateStorePlugin;
import org.apache.pekko.persistence.testkit.javadsl.EventSourcedBehaviorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import sluice.agent.testing.Await;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.testing.TestClock;
import sluice.core.user.UserActor.Command;
import sluice.core.user.UserActor.Event;
import sluice.core.user.UserActor.State;

/** Every command, event, state and reply survives Jackson CBOR (the testkit checks each), and snapshots recover. */
@ExtendWith(LogCapturingExtension.class)
class UserActorSerializationTest {
  static final ActorTestKit testKit = ActorTestKit.create(EventSourcedBehaviorTestKit.config()
      .withFallback(PersistenceTestKitDurableStateStorePlugin.getInstance().config()));
  private static final Instant START = Instant.parse("2024-05-14T10:20:30Z");

  @AfterAll static void shutdown() { testKit.shutdownTestKit(); }

  private final TestClock clock = TestClock.frozen(START);
  private final UserSettings settings = new UserSettings(UserLimits.NONE,
      List.of(new UserSettings.Group(GroupName.of("staff"), new UserLimits(UserActorTest.requests(Window.MINUTE, 100),
          Map.of("big", UserActorTest.concurrent(1))))),
      1024, Duration.ofMinutes(15), Duration.ofMillis(50), Duration.ofMinutes(10), "unused", PersistenceTestKitDurableStateStorePlugin.PluginId());
  private final EventSourcedBehaviorTestKit<Command, Event, State> es =
      EventSourcedBehaviorTestKit.create(testKit.system(), UserActor.create(UserId.of("alice@example.org"), settings, KeyIndex.empty(), clock));

  @BeforeEach void clear() throws Exception {
    es.clear();
    counters().deleteObject("user-counters|alice@example.org").toCompletableFuture().get();
  }

  @SuppressWarnings("unchecked")
  private static DurableStateUpdateStore<Object> counters() {
    return DurableStateStoreRegistry.get(testKit.system())
        .getDurableStateStoreFor(DurableStateUpdateStore.class, PersistenceTestKitDurableStateStorePlugin.PluginId());
  }

  @Test void theWholeProtocolSerializes() throws Exception {
    var created = es.<UserReply>runCommand(r -> new UserActor.CreateUser(UserActorTest.groups("staff"),
        new UserLimits(new Limits(Map.of(Window.DAY, 1000L), Map.of(Window.MONTH, 10L), 3), Map.of()), r));
    assertInstanceOf(UserReply.Done.class, created.reply());
    es.<UserReply>runCommand(r -> new UserActor.CreateKey(KeyId.of("key_1"), UserActorTest.digest("s1"), KeyName.of("laptop"),
        START.plus(Duration.ofDays(1)), List.of(ServiceId.of("big")), new Limits(Map.of(Window.HOUR, 5L), Map.of(), 1), r));
    var admitted = es.<Admission>runCommand(r -> new UserActor.Admit("r1", new Credential.ApiKey(UserActorTest.digest("s1")), ServiceId.of("big"), 4, r));
    var a = assertInstanceOf(Admission.Admitted.class, admitted.reply());
    assertEquals("key_1", a.keyId());
    var refused = es.<Admission>runCommand(r -> new UserActor.Admit("r2", new Credential.ApiKey(UserActorTest.digest("s1")), ServiceId.of("big"), 4, r));
    assertEquals(AdmissionRefusal.CONCURRENCY_LIMIT, assertInstanceOf(Admission.Refused.class, refused.reply()).reason());
    es.runCommand(new UserActor.Settle("r1", 1, 2));
    var trusted = es.<Admission>runCommand(r -> new UserActor.Admit("r3", new Credential.Trusted("config:demo", "config", UserActorTest.groups("staff")), ServiceId.of("small"), 4, r));
    assertInstanceOf(Admission.Admitted.class, trusted.reply());
    var updated = es.<UserReply>runCommand(r -> new UserActor.UpdateUser(Optional.of(UserActorTest.groups("staff", "x")), Optional.of(UserLimits.NONE), r));
    assertEquals(2, updated.events().size());
    es.<UserReply>runCommand(r -> new UserActor.RevokeKey(KeyId.of("key_1"), r));
    // The checkpoint (a timer) saves the counters in the durable state store, not in the journal.
    Await.until(Duration.ofSeconds(5), "the counters in the durable state",
        () -> counters().getObject("user-counters|alice@example.org").toCompletableFuture().get().value()
            .map(v -> ((SavedCounters) v).scopes().stream().filter(sc -> sc.scope().equals("user"))
                .flatMap(sc -> sc.windows().stream()).anyMatch(w -> w.window() == Window.MINUTE && w.requests() == 2 && w.tokens() == 7))
            .orElse(false));
    assertTrue(es.persistenceTestKit().persistedInStorage(UserActor.persistenceId(UserId.of("alice@example.org")).id()).stream()
        .noneMatch(e -> e instanceof UserActor.CountersSaved));

    State restarted = es.restart().state();
    assertEquals(List.of("staff", "x"), restarted.groups());
    assertTrue(restarted.keys().get("key_1").revokedAt() != null);
    var view = assertInstanceOf(UserReply.Done.class, es.<UserReply>runCommand(UserActor.GetUser::new).reply()).user();
    assertEquals(2, view.requests().get("minute"));
    assertEquals(7, view.tokens().get("minute"), "3 settled + 4 reserved");
  }

  @Test void theSavedCountersSurviveJacksonCbor() {
    var saved = new SavedCounters(List.of(new UserActor.ScopeCount("key:key_1", List.of(
        new UserActor.WindowCount(Window.DAY, Instant.parse("2024-05-14T00:00:00Z"), 12, 3456),
        new UserActor.WindowCount(Window.MONTH, Instant.parse("2024-05-01T00:00:00Z"), 13, 4567)))), START);
    assertEquals(saved, new SerializationTestKit(testKit.system()).verifySerialization(saved, true));
  }

  @Test void aUserRecoversFromASnapshot() {
    es.<UserReply>runCommand(r -> new UserActor.CreateUser(List.of(), UserLimits.NONE, r));
    es.<UserReply>runCommand(r -> new UserActor.CreateKey(KeyId.of("key_1"), UserActorTest.digest("s1"), KeyName.NONE, null, List.of(), Limits.NONE, r));
    for (int i = 0; i < 110; i++) {
      int n = i;
      es.<UserReply>runCommand(r -> new UserActor.UpdateUser(Optional.of(UserActorTest.groups("g" + n)), Optional.empty(), r));
    }
    assertTrue(es.snapshotTestKit().orElseThrow().persistedInStorage(UserActor.persistenceId(UserId.of("alice@example.org")).id())
        .size() > 0, "a snapshot was taken");
    State s = es.restart().state();
    assertEquals(List.of("g109"), s.groups());
    assertEquals(1, s.keys().size());
  }
}
