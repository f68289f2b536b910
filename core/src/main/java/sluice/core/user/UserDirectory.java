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
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import sluice.core.Asks;

/**
 * The edge's way to the users: starts the sharded {@link UserActor}s (they passivate themselves when idle) and wraps
 * the asks. Invalid input is answered with a Refused ({@code invalid_request}) without reaching an actor.
 */
public final class UserDirectory {
  private final ClusterSharding sharding;
  private final UserSettings settings;
  private final KeyIndex index;
  private final Duration askTimeout;

  private UserDirectory(ClusterSharding sharding, UserSettings settings, KeyIndex index, Duration askTimeout) {
    this.sharding = sharding;
    this.settings = settings;
    this.index = index;
    this.askTimeout = askTimeout;
  }

  public static UserDirectory start(ActorSystem<?> system, UserSettings settings, KeyIndex index, Clock clock, Duration askTimeout) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(UserActor.TYPE_KEY, ctx -> UserActor.isValidUserId(ctx.getEntityId())
            ? UserActor.create(ctx.getEntityId(), settings, index, clock, ctx.getShard())
            : Behaviors.stopped())                      // never sent by this directory; a bad id must not crash the shard
        .withStopMessage(UserActor.Stop.INSTANCE)
        // The actor passivates itself, and only with nothing in flight: automatic passivation would drop reservations.
        .withSettings(ClusterShardingSettings.create(system).withNoPassivationStrategy()));
    return new UserDirectory(sharding, settings, index, askTimeout);
  }

  public UserSettings settings() { return settings; }

  /** The owner of a usable key, from the in-memory index (no ask). */
  public Optional<KeyRef> keyByDigest(String digest) { return index.byDigest(digest); }

  /** Every user ever created (on any node, once the index has seen it), sorted. */
  public List<String> userIds() { return index.users(); }

  public CompletionStage<Admission> admit(String userId, String requestId, Credential credential, String model, long reserveTokens) {
    Function<ActorRef<Admission>, UserActor.Command> admit =
        replyTo -> new UserActor.Admit(requestId, credential, model, reserveTokens, replyTo);
    String invalid = invalid(userId, admit);
    if (invalid != null) {
      return CompletableFuture.completedFuture(
          new Admission.Refused(400, "invalid_request_error", "invalid_request", invalid, -1, null, RateInfo.NONE));
    }
    return Asks.plain(ref(userId).ask(admit::apply, askTimeout));
  }

  /** Ends an admitted request with its real usage. */
  public void settle(String userId, String requestId, long promptTokens, long completionTokens) {
    if (!UserActor.isValidUserId(userId) || requestId == null) return;
    ref(userId).tell(new UserActor.Settle(requestId, Math.max(0, promptTokens), Math.max(0, completionTokens)));
  }

  public CompletionStage<UserReply> create(String userId, List<String> groups, UserLimits limits) {
    return ask(userId, replyTo -> new UserActor.CreateUser(groups, limits, replyTo));
  }

  public CompletionStage<UserReply> get(String userId) {
    return ask(userId, UserActor.GetUser::new);
  }

  public CompletionStage<UserReply> update(String userId, Optional<List<String>> groups, Optional<UserLimits> limits) {
    return ask(userId, replyTo -> new UserActor.UpdateUser(groups, limits, replyTo));
  }

  /** @param digest the SHA-256 hex digest of the key's secret (the secret never leaves the edge) */
  public CompletionStage<UserReply> createKey(String userId, String keyId, String digest, String name, Instant expiresAt,
                                              List<String> models, Limits limits) {
    return ask(userId, replyTo -> new UserActor.CreateKey(keyId, digest, name, expiresAt, models, limits, replyTo));
  }

  /** Revokes a key, found through the index; a key the index does not know is key_not_found. */
  public CompletionStage<UserReply> revokeKey(String keyId) {
    return index.userOfKey(keyId)
        .map(user -> ask(user, replyTo -> new UserActor.RevokeKey(keyId, replyTo)))
        .orElseGet(() -> CompletableFuture.completedFuture(new UserReply.Refused("key_not_found", "no key " + keyId)));
  }

  private CompletionStage<UserReply> ask(String userId, Function<ActorRef<UserReply>, UserActor.Command> command) {
    String invalid = invalid(userId, command);
    if (invalid != null) return CompletableFuture.completedFuture(new UserReply.Refused("invalid_request", invalid));
    return Asks.plain(ref(userId).ask(command::apply, askTimeout));
  }

  /** Builds the command once before asking (commands validate themselves), so bad input is a Refused, not a failed ask. */
  private static <T> String invalid(String userId, Function<ActorRef<T>, UserActor.Command> command) {
    try {
      UserActor.requireUserId(userId);
      command.apply(null);
      return null;
    } catch (IllegalArgumentException e) {
      return e.getMessage();
    }
  }

  private EntityRef<UserActor.Command> ref(String userId) {
    return sharding.entityRefFor(UserActor.TYPE_KEY, userId);
  }
}
