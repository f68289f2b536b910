package sluice.core.user;

import java.time.Duration;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.persistence.query.EventEnvelope;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.EventsByTagQuery;
import org.apache.pekko.persistence.query.javadsl.ReadJournal;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.RestartSettings;
import org.apache.pekko.stream.UniqueKillSwitch;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.RestartSource;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.CborSerializable;
import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;

/**
 * Which user a presented key belongs to, in memory, so the hot path makes no database query. Built from the events
 * the user actors tag with {@link #TAG}: replayed at start-up, then followed, so keys made on another gateway node
 * appear within the read journal's refresh interval. Revoked keys stay in the index: the user actor checks every key
 * (revoked, expired) itself, and so tells the client its key was revoked rather than unknown. Applying an event
 * twice, or an old one late, changes nothing.
 */
public final class KeyIndex {
  public static final String TAG = "sluice-key-index";
  private static final Logger log = LoggerFactory.getLogger(KeyIndex.class);
  private static final RestartSettings FOLLOW_BACKOFF = RestartSettings.create(Duration.ofSeconds(1), Duration.ofSeconds(30), 0.2);

  private final Set<UserId> users = new ConcurrentSkipListSet<>();
  private final Map<String, KeyRef> byDigest = new ConcurrentHashMap<>();
  private final Map<KeyId, UserId> userOfKey = new ConcurrentHashMap<>();
  private volatile UniqueKillSwitch following;
  private volatile Consumer<Update> peers = u -> {};

  /**
   * A change a user actor made, sent at once to the index of every gateway node (the journal's event stream, which
   * follows about a second later, is the catch-up for a node that missed it). {@code keyId} null: a user was created.
   */
  public record Update(String userId, String keyId, String digest, boolean revoked) implements CborSerializable {
    static Update userCreated(UserId u) { return new Update(u.value(), null, null, false); }

    static Update keyCreated(UserId u, KeyId k, String digest) { return new Update(u.value(), k.value(), digest, false); }

    static Update keyRevoked(UserId u, KeyId k) { return new Update(u.value(), k.value(), null, true); }
  }

  private KeyIndex() {}

  /** Where {@link #announce} sends this node's changes: every node's index, this one's included. */
  public void announceTo(Consumer<Update> peers) { this.peers = peers; }

  /** A change made on this node: applied here at once and sent to the other nodes. */
  void announce(Update u) {
    apply(u);
    peers.accept(u);
  }

  /** A change announced by a user actor on any node; applying one twice changes nothing. */
  public void apply(Update u) {
    try {
      UserId user = UserId.of(u.userId());
      if (u.keyId() == null) userCreated(user);
      else if (u.revoked()) keyRevoked(user, KeyId.of(u.keyId()));
      else if (u.digest() != null) keyCreated(user, KeyId.of(u.keyId()), u.digest());
    } catch (IllegalArgumentException e) {
      log.warn("key index: an update of user {} left out: {}", u.userId(), e.getMessage());
    }
  }

  /** An index that knows nothing and follows nothing: what the user actors write into is all it holds. */
  public static KeyIndex empty() { return new KeyIndex(); }

  /** The user and key id of a key (revoked ones too), by the SHA-256 hex digest of its secret. */
  public Optional<KeyRef> byDigest(String digest) { return digest == null ? Optional.empty() : Optional.ofNullable(byDigest.get(digest)); }

  /** The owner of a key id, revoked or not. */
  public Optional<UserId> userOfKey(KeyId keyId) { return keyId == null ? Optional.empty() : Optional.ofNullable(userOfKey.get(keyId)); }

  /** Every user ever created, sorted. */
  public List<UserId> users() { return List.copyOf(users); }

  public void userCreated(UserId userId) { users.add(userId); }

  public void keyCreated(UserId userId, KeyId keyId, String digest) {
    users.add(userId);
    userOfKey.put(keyId, userId);
    byDigest.put(digest, new KeyRef(userId, keyId));
  }

  /** A user actor's recovered state, for an index that did not replay the journal (the local one). */
  void userRecovered(UserId userId, Collection<UserActor.Key> keys) {
    userCreated(userId);
    for (UserActor.Key k : keys) {
      if (k.revokedAt() == null) keyCreated(userId, KeyId.of(k.id()), k.digest());
      else keyRevoked(userId, KeyId.of(k.id()));
    }
  }

  /** Nothing to forget: the user actor refuses the key from now on, and names the reason. */
  public void keyRevoked(UserId userId, KeyId keyId) {
    userOfKey.putIfAbsent(keyId, userId);
  }

  /**
   * Applies one of the user actor's tagged events; other events are ignored. Ids come as the journal stored them: one
   * that today's rules refuse (written by a build with looser rules) is left out with a warning, not fatal.
   */
  public void apply(String userId, Object event) {
    try {
      if (event instanceof UserActor.UserCreated) userCreated(UserId.of(userId));
      else if (event instanceof UserActor.KeyCreated k) keyCreated(UserId.of(userId), KeyId.of(k.keyId()), k.digest());
      else if (event instanceof UserActor.KeyRevoked r) keyRevoked(UserId.of(userId), KeyId.of(r.keyId()));
    } catch (IllegalArgumentException e) {
      log.warn("key index: an event of user {} left out: {}", userId, e.getMessage());
    }
  }

  /** Stops following the journal (the index keeps what it has). */
  public void close() {
    UniqueKillSwitch k = following;
    if (k != null) k.shutdown();
  }

  /**
   * Replays every tagged event into a new index, then keeps following the journal from where the replay ended
   * (restarting with backoff when the query fails). Completes when the replay is done.
   */
  public static CompletionStage<KeyIndex> load(ActorSystem<?> system, String readJournalPluginId) {
    ReadJournal journal = PersistenceQuery.get(Adapter.toClassic(system)).getReadJournalFor(ReadJournal.class, readJournalPluginId);
    if (!(journal instanceof CurrentEventsByTagQuery current) || !(journal instanceof EventsByTagQuery live)) {
      throw new IllegalArgumentException("read journal " + readJournalPluginId + " cannot query events by tag");
    }
    KeyIndex index = new KeyIndex();
    AtomicReference<Offset> last = new AtomicReference<>(Offset.noOffset());
    return current.currentEventsByTag(TAG, Offset.noOffset())
        .runForeach(env -> index.applyEnvelope(env, last), system)
        .thenApply(done -> {
          log.info("key index loaded: {} users, {} usable keys", index.users.size(), index.byDigest.size());
          index.following = RestartSource.withBackoff(FOLLOW_BACKOFF, () -> from(live, last.get()))
              .viaMat(KillSwitches.single(), Keep.right())
              .toMat(Sink.foreach(env -> index.applyEnvelope(env, last)), Keep.left())
              .run(system);
          return index;
        });
  }

  private static Source<EventEnvelope, ?> from(EventsByTagQuery live, Offset offset) {
    try {
      return live.eventsByTag(TAG, offset);
    } catch (UnsupportedOperationException e) {
      // Journals without offsets (the persistence testkit) are read again from the start: applying is idempotent.
      return live.eventsByTag(TAG, Offset.noOffset());
    }
  }

  private void applyEnvelope(EventEnvelope env, AtomicReference<Offset> last) {
    String pid = env.persistenceId();
    if (pid.startsWith(UserActor.PERSISTENCE_PREFIX)) apply(pid.substring(UserActor.PERSISTENCE_PREFIX.length()), env.event());
    last.set(env.offset());
  }
}
