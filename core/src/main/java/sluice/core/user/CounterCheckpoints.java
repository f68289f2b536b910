package sluice.core.user;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ThreadLocalRandom;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.pattern.Patterns;
import org.apache.pekko.persistence.state.DurableStateStoreRegistry;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.persistence.typed.PersistenceId;
import sluice.core.ids.UserId;
import sluice.core.policy.Backoff;
import sluice.core.user.UserActor.Command;
import sluice.core.user.UserActor.CountersLoaded;
import sluice.core.user.UserActor.CountersWritten;
import sluice.core.user.UserActor.ScopeCount;

/**
 * Where a user actor keeps its counters: ONE durable-state object per user ({@code user-counters|<id>}), overwritten at
 * each checkpoint, so the user's journal holds only its admin events (tagged for the key index, never deleted) and
 * does not grow with traffic. Loads the object once after recovery; writes it when the counters changed, one write at
 * a time, each at the next revision (the JDBC store inserts revision 1 and updates revision n only over n-1).
 *
 * <p>A failed write leaves the counters changed, so the next tick writes again; as the failed write may have been
 * applied anyway (its answer lost), that next write first reads the stored revision. No write is timed out here: its
 * answer, however late, is what frees the next. Results come back to the actor as messages tagged with this
 * incarnation, so the answer to a call made before a restart of the actor is recognised and ignored.
 */
final class CounterCheckpoints {
  private static final Backoff LOAD_RETRY = new Backoff(Duration.ofMillis(200), Duration.ofSeconds(10));

  private final ActorContext<Command> ctx;
  private final UserId userId;
  private final DurableStateUpdateStore<SavedCounters> store;
  private final String id;
  private final long incarnation = ThreadLocalRandom.current().nextLong();
  private boolean loaded;
  private int loadFailures;
  private long revision = -1;          // the revision stored; -1 while unknown (before loading, after a failed write)
  private boolean writing;
  private int writeFailures;
  private boolean stopping;
  private boolean finalWrite;          // the write under way is the one Stop started

  CounterCheckpoints(ActorContext<Command> ctx, UserId userId, String pluginId) {
    this.ctx = ctx;
    this.userId = userId;
    this.store = store(ctx.getSystem(), pluginId);
    this.id = persistenceId(userId).id();
  }

  /** The store named by {@code sluice.users.counters-store}; looking it up at start-up fails early if it is missing. */
  @SuppressWarnings("unchecked")
  static DurableStateUpdateStore<SavedCounters> store(ActorSystem<?> system, String pluginId) {
    return DurableStateStoreRegistry.get(system).getDurableStateStoreFor(DurableStateUpdateStore.class, pluginId);
  }

  static PersistenceId persistenceId(UserId userId) { return PersistenceId.of("user-counters", userId.value()); }

  boolean loaded() { return loaded; }

  /** After recovery: a user that does not exist yet has no counters to load (none are written before it exists). */
  void load(boolean userExists) {
    if (!userExists) {
      loaded = true;
      revision = 0;
      return;
    }
    read(store.getObject(id));
  }

  private void read(CompletionStage<GetObjectResult<SavedCounters>> reading) {
    ctx.pipeToSelf(reading, (r, err) -> err == null
        ? new CountersLoaded(incarnation, r.value().orElse(null), r.revision(), null)
        : new CountersLoaded(incarnation, null, -1, String.valueOf(err)));
  }

  /**
   * The answer to {@link #load}: restores {@code quotas} from the stored object or, if there is none yet, from the
   * counters of the journal's last {@code CountersSaved} (as the previous release kept them); true once loaded.
   *
   * <p>A failed read is retried with backoff while the commands stay stashed, rather than failing the actor: a restart
   * would drop the stash (Pekko discards it), so the callers would get timeouts instead of answers once the database is
   * back. The stash is bounded by {@code pekko.persistence.typed.stash-capacity}.
   */
  boolean onLoaded(CountersLoaded l, Quotas quotas, List<ScopeCount> journaled, Instant now) {
    if (l.incarnation() != incarnation || loaded) return false;
    if (l.failure() == null) {
      loaded = true;
      revision = l.revision();
      quotas.restore(l.saved() != null ? l.saved().scopes() : journaled, now);
      if (loadFailures > 0) ctx.getLog().info("user {}: counters loaded after {} failed attempts", userId, loadFailures);
      return true;
    }
    Duration wait = LOAD_RETRY.after(++loadFailures);
    ctx.getLog().warn("user {}: loading the counters failed ({}); retrying in {} ms, its requests wait", userId, l.failure(),
        wait.toMillis());
    read(Patterns.after(wait, ctx.getSystem(), () -> store.getObject(id)));
    return false;
  }

  /** Writes the counters if they changed and no write is under way (then the next tick or answer tries again). */
  void save(Quotas quotas, Instant now) {
    if (!loaded || writing || !quotas.changed()) return;
    SavedCounters value = new SavedCounters(quotas.checkpoint(now), now);
    CompletionStage<Long> write = revision >= 0
        ? upsert(revision + 1, value)
        : store.getObject(id).thenCompose(r -> upsert(r.revision() + 1, value));
    writing = true;
    finalWrite = stopping;
    ctx.pipeToSelf(write, (rev, err) -> new CountersWritten(incarnation, rev == null ? -1 : rev, err == null ? null : String.valueOf(err)));
  }

  private CompletionStage<Long> upsert(long next, SavedCounters value) {
    CompletionStage<Done> done = store.upsertObject(id, next, value, "");
    return done.thenApply(d -> next);
  }

  /** The answer to a write; true when the actor, asked to stop, may stop now. */
  boolean onWritten(CountersWritten w, Quotas quotas, Instant now) {
    if (w.incarnation() != incarnation) return false;
    writing = false;
    if (w.failure() == null) {
      revision = w.revision();
      if (writeFailures > 0) ctx.getLog().info("user {}: counters saved again after {} failed writes", userId, writeFailures);
      writeFailures = 0;
    } else {
      quotas.unsaved();
      revision = -1;
      if (writeFailures++ == 0 && !stopping) {
        ctx.getLog().warn("user {}: saving the counters failed ({}); retrying every checkpoint", userId, w.failure());
      }
    }
    if (!stopping) return false;
    if (finalWrite) {
      if (w.failure() != null) ctx.getLog().warn("stopping without saving the counters of user {}: {}", userId, w.failure());
      return true;
    }
    save(quotas, now);                 // Stop came while an earlier write was under way: now the final one
    return !writing;
  }

  /** The sharding stop message: true when the actor may stop now, else once the final write is answered. */
  boolean onStop(Quotas quotas, Instant now) {
    stopping = true;
    if (writing) return false;
    save(quotas, now);
    return !writing;
  }
}
