package sluice.bench;

import java.util.List;
import java.util.Set;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.javadsl.CommandHandler;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehavior;
import sluice.core.user.KeyIndex;
import sluice.core.user.UserActor;

/**
 * Writes a user's history into the journal under the user's own persistence id ({@code user|<id>}) through the real
 * journal plugin: the events it is given, tagged as UserActor tags them, so the real UserActor and the key index read
 * them back as their own. It keeps no state (a snapshot the real UserActor left is loaded and ignored).
 */
final class HistoryWriter extends EventSourcedBehavior<HistoryWriter.Command, UserActor.Event, Object> {
  sealed interface Command {}

  /** Persists {@code events} as one write, then answers. */
  record Write(List<UserActor.Event> events, ActorRef<Done> replyTo) implements Command {}

  /** Answered once recovery is over: the writer is ready to write. */
  record Ready(ActorRef<Done> replyTo) implements Command {}

  HistoryWriter(PersistenceId id) {
    super(id);
  }

  @Override public Object emptyState() { return Boolean.TRUE; }

  @Override public CommandHandler<Command, UserActor.Event, Object> commandHandler() {
    return newCommandHandlerBuilder().forAnyState()
        .onCommand(Write.class, (s, c) -> Effect().persist(c.events()).thenRun(st -> c.replyTo().tell(Done.getInstance())))
        .onCommand(Ready.class, (s, c) -> Effect().none().thenRun(st -> c.replyTo().tell(Done.getInstance())))
        .build();
  }

  @Override public EventHandler<Object, UserActor.Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState().onAnyEvent((s, e) -> s);
  }

  /** Exactly UserActor's tags: the key index follows these events. */
  @Override public Set<String> tagsFor(UserActor.Event event) {
    return event instanceof UserActor.UserCreated || event instanceof UserActor.KeyCreated || event instanceof UserActor.KeyRevoked
        ? Set.of(KeyIndex.TAG) : Set.of();
  }
}
