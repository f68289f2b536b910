package sluice.core;

import java.util.function.Function;
import org.apache.pekko.actor.Address;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.cluster.ClusterEvent;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Subscribe;

/**
 * Gateway nodes leaving the cluster, for actors that count what other nodes' requests hold (a service's leases, a
 * user's requests in flight): a node that left or was downed never releases them, so they are released when the
 * cluster removes it. A node is named by its address, as a reply address from it carries it.
 */
public final class Departures {
  private Departures() {}

  /** From now on, {@code ctx}'s actor gets {@code departed.apply(node)} for every node the cluster removes. */
  public static <T> void subscribe(ActorContext<T> ctx, Function<String, T> departed) {
    if (!"cluster".equals(ctx.getSystem().settings().config().getString("pekko.actor.provider"))) return;   // unit tests
    ActorRef<ClusterEvent.MemberRemoved> adapter = ctx.messageAdapter(ClusterEvent.MemberRemoved.class,
        e -> departed.apply(e.member().address().toString()));
    Cluster.get(ctx.getSystem()).subscriptions().tell(Subscribe.create(adapter, ClusterEvent.MemberRemoved.class));
  }

  /** The node a reply address lives on, as {@link #subscribe} names it; "" for this node (it never departs alone). */
  public static String nodeOf(ActorRef<?> ref) {
    Address a = ref.path().address();
    return a.hasGlobalScope() ? a.toString() : "";
  }
}
