package sluice.core.user;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.pubsub.Topic;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import sluice.core.AdminRefusal;
import sluice.core.Asks;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;

/**
 * The edge's way to the users: starts the sharded {@link UserActor}s (they passivate themselves when idle) and wraps
 * the asks. A command that refuses its own fields is answered with a Refused ({@code invalid_request}) without
 * reaching an actor.
 */
public final class UserDirectory {
  private final ClusterSharding sharding;
  private final UserSettings settings;
  private final KeyIndex index;
  private final Duration askTimeout;
  private final Duration failoverWait;

  private UserDirectory(ClusterSharding sharding, UserSettings settings, KeyIndex index, Duration askTimeout,
                        Duration failoverWait) {
    this.sharding = sharding;
    this.settings = settings;
    this.index = index;
    this.askTimeout = askTimeout;
    this.failoverWait = failoverWait;
  }

  /**
   * @param askTimeout   how long one ask waits for its answer
   * @param failoverWait how long an admission keeps asking again while its user actor does not answer
   */
  public static UserDirectory start(ActorSystem<?> system, UserSettings settings, KeyIndex index, Clock clock, Duration askTimeout,
                                    Duration failoverWait) {
    CounterCheckpoints.store(system, settings.countersStore());     // a missing counters store fails start-up, not each user
    // Keys made or revoked on any node reach this node's index at once, not a read-journal refresh later.
    ActorRef<Topic.Command<KeyIndex.Update>> topic = system.systemActorOf(Topic.create(KeyIndex.Update.class, KeyIndex.TAG),
        "key-index-topic", Props.empty());
    ActorRef<KeyIndex.Update> follower = system.systemActorOf(Behaviors.receiveMessage(u -> {
      index.apply(u);
      return Behaviors.same();
    }), "key-index-updates", Props.empty());
    topic.tell(Topic.subscribe(follower));
    index.announceTo(u -> topic.tell(Topic.publish(u)));
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(UserActor.TYPE_KEY, ctx -> UserId.isValid(ctx.getEntityId())
            ? UserActor.create(UserId.of(ctx.getEntityId()), settings, index, clock, ctx.getShard())
            : Behaviors.stopped())                      // never sent by this directory; a bad id must not crash the shard
        .withStopMessage(UserActor.Stop.INSTANCE)
        .withSettings(shardingSettings(system)));
    return new UserDirectory(sharding, settings, index, askTimeout, failoverWait);
  }

  /**
   * Users are not remembered: a user actor holds no work that must resume after a restart (counters are checkpointed,
   * reservations expire), so remembering every user who ever sent a request would only start them all again. The
   * actor passivates itself, and only with nothing in flight: automatic passivation would drop reservations.
   */
  static ClusterShardingSettings shardingSettings(ActorSystem<?> system) {
    return ClusterShardingSettings.create(system).withRememberEntities(false).withNoPassivationStrategy();
  }

  public UserSettings settings() { return settings; }

  /** The owner of a usable key, from the in-memory index (no ask). */
  public Optional<KeyRef> keyByDigest(String digest) { return index.byDigest(digest); }

  /** Every user ever created (on any node, once the index has seen it), sorted. */
  public List<UserId> userIds() { return index.users(); }

  public CompletionStage<Admission> admit(UserId userId, String requestId, Credential credential, ServiceId model, long reserveTokens) {
    Function<ActorRef<Admission>, UserActor.Command> admit =
        replyTo -> new UserActor.Admit(requestId, credential, model, reserveTokens, replyTo);
    String invalid = invalid(admit);
    if (invalid != null) {
      return CompletableFuture.completedFuture(new Admission.Refused(AdmissionRefusal.INVALID_REQUEST, invalid, -1, null, RateInfo.NONE));
    }
    // Repeated while unanswered (an Admit with the same id is answered, not counted twice): a user actor whose node
    // died is reached again once it runs on another node.
    return Asks.retryingOnTimeout(timeout -> ref(userId).ask(admit::apply, timeout), askTimeout, failoverWait);
  }

  /** Ends an admitted request with its real usage. */
  public void settle(UserId userId, String requestId, long promptTokens, long completionTokens) {
    if (requestId == null) return;
    ref(userId).tell(new UserActor.Settle(requestId, Math.max(0, promptTokens), Math.max(0, completionTokens)));
  }

  public CompletionStage<UserReply> create(UserId userId, List<GroupName> groups, UserLimits limits) {
    return ask(userId, replyTo -> new UserActor.CreateUser(groups, limits, replyTo));
  }

  /** A read, so asked again while unanswered (up to the fail-over wait), like an admission. */
  public CompletionStage<UserReply> get(UserId userId) {
    return Asks.retryingOnTimeout(timeout -> ref(userId).ask(UserActor.GetUser::new, timeout), askTimeout, failoverWait);
  }

  public CompletionStage<UserReply> update(UserId userId, Optional<List<GroupName>> groups, Optional<UserLimits> limits) {
    return ask(userId, replyTo -> new UserActor.UpdateUser(groups, limits, replyTo));
  }

  /** @param digest the SHA-256 hex digest of the key's secret (the secret never leaves the edge) */
  public CompletionStage<UserReply> createKey(UserId userId, KeyId keyId, String digest, KeyName name, Instant expiresAt,
                                              List<ServiceId> models, Limits limits) {
    return ask(userId, replyTo -> new UserActor.CreateKey(keyId, digest, name, expiresAt, models, limits, replyTo));
  }

  /** Revokes a key, found through the index; a key the index does not know is key_not_found. */
  public CompletionStage<UserReply> revokeKey(KeyId keyId) {
    return index.userOfKey(keyId)
        .map(user -> ask(user, replyTo -> new UserActor.RevokeKey(keyId, replyTo)))
        .orElseGet(() -> CompletableFuture.completedFuture(new UserReply.Refused(AdminRefusal.KEY_NOT_FOUND, "no key " + keyId)));
  }

  private CompletionStage<UserReply> ask(UserId userId, Function<ActorRef<UserReply>, UserActor.Command> command) {
    String invalid = invalid(command);
    if (invalid != null) return CompletableFuture.completedFuture(new UserReply.Refused(AdminRefusal.INVALID_REQUEST, invalid));
    return Asks.plain(ref(userId).ask(command::apply, askTimeout));
  }

  /** Builds the command once before asking (commands validate themselves), so bad input is a Refused, not a failed ask. */
  private static <T> String invalid(Function<ActorRef<T>, UserActor.Command> command) {
    try {
      command.apply(null);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private EntityRef<UserActor.Command> ref(UserId userId) {
    return sharding.entityRefFor(UserActor.TYPE_KEY, userId.value());
  }
}
