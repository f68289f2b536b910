package sluice.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.jdbc.query.javadsl.JdbcReadJournal;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.stream.javadsl.Sink;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.agent.testing.Await;
import sluice.core.CborSerializable;
import sluice.persistence.testing.TestDatabase;

/**
 * The journal plugins on a migrated database, H2 and PostgreSQL: events, snapshots with deleted events, tags and
 * durable state survive a restart of the whole actor system.
 */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
class JournalTest {
  @Parameter TestDatabase database;
  @TempDir Path dir;

  record Add(String item, ActorRef<List<String>> replyTo) implements CborSerializable {}

  record Added(String item) implements CborSerializable {}

  record Items(List<String> items) implements CborSerializable {}

  /** A list that tags items starting with "key" and snapshots every 10 events, deleting what a snapshot covers. */
  static Behavior<Add> list(String id) {
    return new EventSourcedBehavior<Add, Added, Items>(PersistenceId.ofUniqueId(id)) {
      @Override public Items emptyState() { return new Items(List.of()); }

      @Override public CommandHandler<Add, Added, Items> commandHandler() {
        return newCommandHandlerBuilder().forAnyState().onCommand(Add.class, (s, c) ->
            Effect().persist(new Added(c.item())).thenRun(st -> c.replyTo().tell(st.items()))).build();
      }

      @Override public EventHandler<Items, Added> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onEvent(Added.class, (s, e) -> {
          var l = new ArrayList<>(s.items());
          l.add(e.item());
          return new Items(List.copyOf(l));
        }).build();
      }

      @Override public Set<String> tagsFor(Added event) { return event.item().startsWith("key") ? Set.of("keys") : Set.of(); }

      @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(10, 1).withDeleteEventsOnSnapshot(); }
    };
  }

  private static long firstSequenceNr(JdbcReadJournal journal, ActorTestKit kit) throws Exception {
    return journal.currentEventsByPersistenceId("cart", 0, Long.MAX_VALUE).map(e -> e.sequenceNr())
        .runWith(Sink.head(), kit.system()).toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  private ActorTestKit system(Config db) {
    return ActorTestKit.create("journal", db);
  }

  /** As the gateway does: sluice.persistence applied to the plugins, the schema migrated before the system starts. */
  private Config database() throws Exception {
    Config c = DatabaseSettings.applyTo(ConfigFactory.load(database.config(dir)
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))));
    Migrations.migrate(DatabaseSettings.from(c));
    return c;
  }

  @Test void eventsSnapshotsTagsAndDurableStateSurviveARestart() throws Exception {
    Config db = database();
    if (database == TestDatabase.H2) assertTrue(Files.exists(dir.resolve("sluice.mv.db")), "H2 file under sluice.data-dir");
    ActorTestKit first = system(db);
    TestProbe<List<String>> p = first.createTestProbe();
    ActorRef<Add> cart = first.spawn(list("cart"));
    List<String> expected = new ArrayList<>();
    for (int i = 0; i < 25; i++) {
      String item = (i % 5 == 0 ? "key-" : "item-") + i;
      expected.add(item);
      cart.tell(new Add(item, p.getRef()));
      assertEquals(expected, p.receiveMessage(Duration.ofSeconds(10)));
    }
    DurableStateUpdateStore<Object> state = DurableStateStoreRegistry.get(Adapter.toClassic(first.system()))
        .getDurableStateStoreFor(DurableStateUpdateStore.class, "jdbc-durable-state-store");
    state.upsertObject("counters|alice", 1, new Items(List.of("1")), "").toCompletableFuture().get(10, TimeUnit.SECONDS);
    state.upsertObject("counters|alice", 2, new Items(List.of("2")), "").toCompletableFuture().get(10, TimeUnit.SECONDS);
    // The snapshot at event 20 deletes events up to 10 (one snapshot interval is kept), after the snapshot is stored.
    JdbcReadJournal firstJournal = PersistenceQuery.get(Adapter.toClassic(first.system()))
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    Await.until(Duration.ofSeconds(10), "the events the snapshot covers to be deleted", () -> firstSequenceNr(firstJournal, first) == 11);
    first.shutdownTestKit();

    ActorTestKit second = system(db);
    TestProbe<List<String>> p2 = second.createTestProbe();
    second.spawn(list("cart")).tell(new Add("last", p2.getRef()));
    expected.add("last");
    assertEquals(expected, p2.receiveMessage(Duration.ofSeconds(10)), "recovered from a snapshot and the events after it");

    JdbcReadJournal journal = PersistenceQuery.get(Adapter.toClassic(second.system()))
        .getReadJournalFor(JdbcReadJournal.class, JdbcReadJournal.Identifier());
    assertEquals(11L, firstSequenceNr(journal, second), "events covered by the snapshot stay deleted");
    List<Object> tagged = journal.currentEventsByTag("keys", Offset.noOffset())
        .map(e -> e.event()).runWith(Sink.seq(), second.system()).toCompletableFuture().get(10, TimeUnit.SECONDS);
    // (the plugin keeps the last deleted row, marked, to remember the highest sequence number: key-10 here)
    assertTrue(!tagged.contains(new Added("key-0")) && !tagged.contains(new Added("key-5")) && tagged.contains(new Added("key-20")),
        "deleted events take their tags with them (why the user actor never deletes its events): " + tagged);

    DurableStateUpdateStore<Object> state2 = DurableStateStoreRegistry.get(Adapter.toClassic(second.system()))
        .getDurableStateStoreFor(DurableStateUpdateStore.class, "jdbc-durable-state-store");
    GetObjectResult<Object> counters = state2.getObject("counters|alice").toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(Optional.of(new Items(List.of("2"))), counters.value());
    assertEquals(2, counters.revision());
    second.shutdownTestKit();
  }
}
