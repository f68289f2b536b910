package sluice.edge.dashboard;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.pubsub.Topic;
import sluice.core.CborSerializable;
import sluice.core.tunnel.TunnelStatus;
import sluice.core.tunnel.Tunnels;

/**
 * The login-node tunnels of every gateway node, for the dashboard: tunnels are per node (each node has its own SSH
 * connections), so a node asks all of them over a cluster-wide {@link Topic} and keeps the latest answer of each.
 * A node that has left stops answering, and its entry is dropped once older than {@code maxAge}.
 */
public final class TunnelBoard {
  static final String TOPIC = "sluice-dashboard-tunnels";
  private static final Duration ANSWER = Duration.ofSeconds(3);

  /** Sent to every node: answer {@code replyTo} with this node's tunnels. */
  public record Wanted(ActorRef<Report> replyTo) implements CborSerializable {}

  /** One gateway node's tunnels; {@code gateway} is its cluster address. */
  public record Report(String gateway, List<TunnelStatus> tunnels) implements CborSerializable {
    public Report {
      tunnels = List.copyOf(tunnels);
    }
  }

  private record Seen(Instant at, List<TunnelStatus> tunnels) {}

  private final ActorRef<Topic.Command<Wanted>> topic;
  private final ActorRef<Report> collector;
  private final Map<String, Seen> reports = new ConcurrentHashMap<>();
  private final String self;
  private final Duration maxAge;
  private final Clock clock;

  private TunnelBoard(ActorSystem<?> system, Tunnels tunnels, Duration maxAge, Clock clock) {
    this.self = system.address().toString();
    this.maxAge = maxAge;
    this.clock = clock;
    this.topic = system.systemActorOf(Topic.create(Wanted.class, TOPIC), "dashboard-tunnel-topic", Props.empty());
    ActorRef<Wanted> answering = system.systemActorOf(Behaviors.receiveMessage(w -> {
      tunnels.statuses(ANSWER).thenAccept(list -> w.replyTo().tell(new Report(self, list)));
      return Behaviors.same();
    }), "dashboard-tunnel-answers", Props.empty());
    topic.tell(Topic.subscribe(answering));
    this.collector = system.systemActorOf(Behaviors.receiveMessage(r -> {
      reports.put(r.gateway(), new Seen(clock.instant(), r.tunnels()));
      return Behaviors.same();
    }), "dashboard-tunnel-reports", Props.empty());
  }

  /** Starts this node's part: it answers the other nodes' requests from now on. */
  public static TunnelBoard start(ActorSystem<?> system, Tunnels tunnels, Duration maxAge, Clock clock) {
    return new TunnelBoard(system, tunnels, maxAge, clock);
  }

  /** This node's cluster address, as its reports name it. */
  public String self() { return self; }

  /** Asks every node (this one too) for its tunnels; their answers arrive in {@link #latest} a moment later. */
  public void request() { topic.tell(Topic.publish(new Wanted(collector))); }

  /** The latest tunnels of every node that answered within {@code maxAge}, by node address. */
  public Map<String, List<TunnelStatus>> latest() {
    Instant oldest = clock.instant().minus(maxAge);
    reports.entrySet().removeIf(e -> e.getValue().at().isBefore(oldest));
    Map<String, List<TunnelStatus>> out = new TreeMap<>();
    reports.forEach((node, seen) -> out.put(node, seen.tunnels()));
    return out;
  }
}
