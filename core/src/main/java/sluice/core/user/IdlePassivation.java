package sluice.core.user;

import java.time.Duration;
import java.time.Instant;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;

/**
 * When a sharded user actor asks its shard to passivate it: no command for the idle timeout and nothing in flight
 * (the users' shards have no automatic passivation, which would drop reservations). It asks once; the shard then
 * sends {@link UserActor.Stop}. Without a shard (an unsharded actor) it never asks.
 */
final class IdlePassivation {
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final ActorRef<UserActor.Command> self;
  private final Duration idleTimeout;
  private Instant lastCommand;
  private boolean asked;

  IdlePassivation(ActorRef<ClusterSharding.ShardCommand> shard, ActorRef<UserActor.Command> self, Duration idleTimeout,
                  Instant now) {
    this.shard = shard;
    this.self = self;
    this.idleTimeout = idleTimeout;
    this.lastCommand = now;
  }

  void commandAt(Instant now) { lastCommand = now; }

  /** At each tick: asks the shard if the actor has been idle long enough with nothing in flight. */
  void tick(boolean inFlight, Instant now) {
    if (shard == null || asked || inFlight || lastCommand.plus(idleTimeout).isAfter(now)) return;
    asked = true;
    shard.tell(new ClusterSharding.Passivate<>(self));
  }
}
