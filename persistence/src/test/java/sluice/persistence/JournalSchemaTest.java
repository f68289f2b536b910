package sluice.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.actor.testkit.typed.javadsl.TestProbe;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import sluice.core.CborSerializable;

/** The embedded default: an H2 file created on first start, and events that survive a restart of the whole system. */
class JournalSchemaTest {
  @TempDir Path dir;

  record Add(String item, ActorRef<List<String>> replyTo) implements CborSerializable {}

  record Added(String item) implements CborSerializable {}

  record Items(List<String> items) implements CborSerializable {}

  static Behavior<Add> list(String id) {
    return new EventSourcedBehavior<Add, Added, Items>(PersistenceId.ofUniqueId(id)) {
      @Override public Items emptyState() { return new Items(List.of()); }

      @Override public CommandHandler<Add, Added, Items> commandHandler() {
        return newCommandHandlerBuilder().forAnyState().onCommand(Add.class, (s, c) ->
            Effect().persist(new Added(c.item())).thenRun(st -> c.replyTo().tell(st.items()))).build();
      }

      @Override public EventHandler<Items, Added> eventHandler() {
        return newEventHandlerBuilder().forAnyState().onEvent(Added.class, (s, e) -> {
          var l = new java.util.ArrayList<>(s.items());
          l.add(e.item());
          return new Items(List.copyOf(l));
        }).build();
      }
    };
  }

  private ActorTestKit system() {
    // As the gateway does: sluice-persistence.conf over the reference settings, with sluice.data-dir set.
    return ActorTestKit.create("journal", ConfigFactory.load(ConfigFactory.parseString("sluice.data-dir = \"" + dir + "\"")
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))));
  }

  @Test void schemaIsCreatedOnFirstStartAndEventsSurviveARestart() throws Exception {
    ActorTestKit first = system();
    JournalSchema.ensure(first.system()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertTrue(Files.exists(dir.resolve("sluice.mv.db")), "H2 file under sluice.data-dir");
    TestProbe<List<String>> p = first.createTestProbe();
    first.spawn(list("cart")).tell(new Add("a", p.getRef()));
    assertEquals(List.of("a"), p.receiveMessage(Duration.ofSeconds(10)));
    first.shutdownTestKit();

    ActorTestKit second = system();
    JournalSchema.ensure(second.system()).toCompletableFuture().get(30, TimeUnit.SECONDS);   // idempotent
    TestProbe<List<String>> p2 = second.createTestProbe();
    second.spawn(list("cart")).tell(new Add("b", p2.getRef()));
    assertEquals(List.of("a", "b"), p2.receiveMessage(Duration.ofSeconds(10)), "recovered from the H2 journal");
    second.shutdownTestKit();
  }
}
