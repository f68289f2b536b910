package sluice.edge.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.MemberStatus;
import org.apache.pekko.cluster.typed.Cluster;
import org.apache.pekko.cluster.typed.Join;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import sluice.core.tunnel.TunnelStatus;
import sluice.core.tunnel.Tunnels;

/**
 * Two gateway nodes (two actor systems joined into one cluster, in this JVM; their messages really are serialized):
 * each node's dashboard shows the tunnels of both, and forgets a node that has left.
 */
class TunnelBoardTest {
  static final Config CONFIG = ConfigFactory.parseString("""
      pekko.actor.provider = cluster
      pekko.remote.artery.canonical { hostname = "127.0.0.1", port = 0 }
      pekko.cluster.jmx.multi-mbeans-in-same-jvm = on
      pekko.loglevel = WARNING
      """).withFallback(ConfigFactory.defaultReference());
  static final Duration MAX_AGE = Duration.ofSeconds(2);
  static ActorSystem<Void> a;
  static ActorSystem<Void> b;
  static TunnelBoard boardA;
  static TunnelBoard boardB;

  @BeforeAll static void start() throws Exception {
    a = ActorSystem.create(Behaviors.empty(), "sluice", CONFIG);
    b = ActorSystem.create(Behaviors.empty(), "sluice", CONFIG);
    Cluster.get(a).manager().tell(Join.create(a.address()));
    Cluster.get(b).manager().tell(Join.create(a.address()));
    Await.until(Duration.ofSeconds(30), "both nodes to be up", () -> Cluster.get(a).state().getMembers().spliterator()
        .estimateSize() == 2 && Cluster.get(b).selfMember().status() == MemberStatus.up());
    boardA = TunnelBoard.start(a, Tunnels.start(a, Map.of("hpc", List.of("login-1")), Duration.ofMinutes(1), Clock.systemUTC()),
        MAX_AGE, Clock.systemUTC());
    boardB = TunnelBoard.start(b, Tunnels.start(b, Map.of("hpc", List.of("login-1", "login-2")), Duration.ofMinutes(1),
        Clock.systemUTC()), MAX_AGE, Clock.systemUTC());
  }

  @AfterAll static void stop() throws Exception {
    for (ActorSystem<Void> s : List.of(a, b)) {
      s.terminate();
      s.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);
    }
  }

  private static Map<String, List<TunnelStatus>> seen(TunnelBoard board, int nodes) throws Exception {
    return Await.until(Duration.ofSeconds(30), nodes + " nodes' tunnels", () -> {
      board.request();
      return board.latest();
    }, m -> m.size() == nodes);
  }

  private static List<String> loginNodes(List<TunnelStatus> tunnels) { return tunnels.stream().map(TunnelStatus::node).toList(); }

  @Test void eachNodeShowsTheTunnelsOfEveryNodeAndForgetsANodeThatLeft() throws Exception {
    String nodeA = a.address().toString();
    String nodeB = b.address().toString();

    Map<String, List<TunnelStatus>> fromA = seen(boardA, 2);
    assertEquals(List.of("login-1"), loginNodes(fromA.get(nodeA)));
    assertEquals(List.of("login-1", "login-2"), loginNodes(fromA.get(nodeB)), "node B's own tunnels, sent across");
    assertEquals(TunnelStatus.TunnelState.IDLE, fromA.get(nodeB).get(0).state());
    assertEquals(Set.of(nodeA, nodeB), seen(boardB, 2).keySet());
    assertEquals(nodeA, boardA.self());

    b.terminate();
    b.getWhenTerminated().toCompletableFuture().get(30, TimeUnit.SECONDS);

    assertEquals(Set.of(nodeA), seen(boardA, 1).keySet(), "node B left: its tunnels are gone within " + MAX_AGE);
  }
}
