package sluice.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.user.Admission;
import sluice.core.user.Credential;
import sluice.core.user.KeyIndex;
import sluice.core.user.Limits;
import sluice.core.user.UserActor;
import sluice.core.user.UserLimits;
import sluice.core.user.UserReply;
import sluice.core.user.UserSettings;
import sluice.core.user.Window;
import sluice.persistence.testing.TestDatabase;

/**
 * The real user actor on the JDBC plugins (journal, durable state, read journal) of H2 and PostgreSQL: its keys, a
 * revoked key and its counters survive a restart of the whole actor system, the counters live in one durable-state
 * row, and its journal holds only the admin events, which the key index replays.
 */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
class UserRecoveryTest {
  private static final String KEPT = "a".repeat(64);
  private static final String REVOKED = "b".repeat(64);
  private static final ServiceId MODEL = ServiceId.of("llama");

  @Parameter TestDatabase database;
  @TempDir Path dir;

  private Config database() throws Exception {
    Config c = DatabaseSettings.applyTo(ConfigFactory.parseString("sluice.users.checkpoint-interval = 100ms")
        .withFallback(ConfigFactory.load(database.config(dir).withFallback(ConfigFactory.parseResources("sluice-persistence.conf")))));
    Migrations.migrate(DatabaseSettings.from(c));
    return c;
  }

  @Test void keysARevokedKeyAndCountersSurviveARestartWithAJournalOfAdminEventsOnly() throws Exception {
    Config config = database();
    UserSettings settings = UserSettings.from(config);
    UserId alice = UserId.of("alice");
    UserLimits limits = new UserLimits(new Limits(Map.of(Window.DAY, 100L), Map.of(), null), Map.of());

    ActorTestKit first = ActorTestKit.create("users", config);
    ActorRef<UserActor.Command> user = first.spawn(UserActor.create(alice, settings, KeyIndex.empty(), Clock.systemUTC()));
    TestProbe<UserReply> admin = first.createTestProbe();
    user.tell(new UserActor.CreateUser(List.of(), limits, admin.getRef()));
    user.tell(new UserActor.CreateKey(KeyId.of("key_kept0001"), KEPT, KeyName.of("kept"), null, List.of(), Limits.NONE, admin.getRef()));
    user.tell(new UserActor.CreateKey(KeyId.of("key_gone0001"), REVOKED, KeyName.of("gone"), null, List.of(), Limits.NONE, admin.getRef()));
    user.tell(new UserActor.RevokeKey(KeyId.of("key_gone0001"), admin.getRef()));
    for (int i = 0; i < 4; i++) assertInstanceOf(UserReply.Done.class, admin.receiveMessage(Duration.ofSeconds(10)));
    for (int i = 0; i < 30; i++) assertInstanceOf(Admission.Admitted.class, admit(first, user, "r" + i, KEPT));
    TestProbe<Object> stopped = first.createTestProbe();
    user.tell(UserActor.Stop.INSTANCE);                                // saves the counters, then stops
    stopped.expectTerminated(user, Duration.ofSeconds(10));
    first.shutdownTestKit();

    ActorTestKit second = ActorTestKit.create("users", config);
    KeyIndex index = KeyIndex.load(second.system(), "jdbc-read-journal").toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertEquals(List.of(alice), index.users(), "the key index replays the user's tagged events");
    assertTrue(index.byDigest(KEPT).isPresent() && index.byDigest(REVOKED).isPresent());
    ActorRef<UserActor.Command> again = second.spawn(UserActor.create(alice, settings, index, Clock.systemUTC()));
    Admission.Admitted admitted = assertInstanceOf(Admission.Admitted.class, admit(second, again, "r-after", KEPT));
    long dayLeft = admitted.rate().requests().stream().filter(w -> w.window() == Window.DAY).findFirst().orElseThrow().remaining();
    assertEquals(69, dayLeft, "30 counted before the restart, 1 now");
    Admission.Refused refused = assertInstanceOf(Admission.Refused.class, admit(second, again, "r-revoked", REVOKED));
    assertEquals("KEY_REVOKED", refused.reason().name());

    JdbcReadJournal journal = PersistenceQuery.get(Adapter.toClassic(second.system()))
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    List<String> events = journal.currentEventsByPersistenceId(UserActor.persistenceId(alice).id(), 0, Long.MAX_VALUE)
        .map(e -> e.event().getClass().getSimpleName()).runWith(Sink.seq(), second.system()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(List.of("UserCreated", "KeyCreated", "KeyCreated", "KeyRevoked"), events, "no counter checkpoints in the journal");
    second.shutdownTestKit();
  }

  private static Admission admit(ActorTestKit kit, ActorRef<UserActor.Command> user, String requestId, String digest) {
    TestProbe<Admission> p = kit.createTestProbe();
    user.tell(new UserActor.Admit(requestId, new Credential.ApiKey(digest), MODEL, 10, p.getRef()));
    return p.receiveMessage(Duration.ofSeconds(10));
  }
}
