package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.net.Socket;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.WireJson;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.tunnel.Tunnels;

/**
 * The tunnel metrics as the gateway wires them: the bridge's pings through a live connection are the round trips, and a
 * connection the agent's side drops takes the tunnel down until the link connects again. The peer is a protocol-level
 * stand-in for the agent (one per connection), which answers pings as the agent's reader does.
 */
@Timeout(60)
class TunnelMetricsTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  private static final String[] LABELS = {"cluster", "c", "login_node", "login1"};

  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final List<Socket> agentSides = new CopyOnWriteArrayList<>();
  private final List<AutoCloseable> open = new CopyOnWriteArrayList<>();

  @AfterAll static void stop() { testKit.shutdownTestKit(); }

  @AfterEach void close() throws Exception {
    for (AutoCloseable c : open) c.close();
    pool.shutdownNow();
  }

  /** A fresh stand-in agent on loopback, connected as the real transports report it. */
  private AgentTransport transport() {
    return observer -> {
      observer.connecting("login1");
      SocketPair pair = SocketPair.open(open);
      Socket client = pair.client();
      Socket server = pair.server();
      agentSides.add(server);
      Banner.write(server.getOutputStream());
      MuxSession.server(server.getInputStream(), server.getOutputStream(), Limits.DEFAULT, "stand-in", stream -> pool.submit(() -> {
        try {
          stream.sendReply(Messages.Reply.ok(WireJson.tree(new Messages.ProbeResult(true, 200, "ok", false))), true);
        } catch (IOException e) {
          stream.reset(ProblemCode.INTERNAL, String.valueOf(e));
        }
      })).start("stand-in");
      AgentConnection conn = AgentConnection.handshake("login1", client.getInputStream(), client.getOutputStream(),
          Limits.DEFAULT, Duration.ofSeconds(10), () -> { });
      observer.up("login1", 1);
      return conn;
    };
  }

  private static boolean probe(BridgeClusterGateway g) throws Exception {
    return g.probe("svc", "7").toCompletableFuture().get(10, TimeUnit.SECONDS).ready();
  }

  @Test void pingsThroughTheBridgeAreRoundTripsAndALostConnectionIsDownUntilTheReconnect() throws Exception {
    PrometheusRegistry registry = SluiceMetrics.get(testKit.system()).registry;
    Tunnels tunnels = Tunnels.start(testKit.system(), Map.of("c", List.of("login1")), Duration.ofMillis(50), Clock.systemUTC());
    AgentLink link = new AgentLink("c", transport(), pool, Duration.ofMillis(10), Duration.ofMillis(50), Duration.ofSeconds(5),
        tunnels.observer("c"));
    BridgeClusterGateway g = new BridgeClusterGateway("c", "dep", link, ForkJoinPool.commonPool(),
        new BridgeClusterGateway.Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(5), Duration.ZERO), Duration.ZERO);
    open.add(g);
    tunnels.attach("c", g.sampler());

    assertTrue(probe(g));
    Await.until(Duration.ofSeconds(10), "three pings answered", () -> MetricValues.count(registry, "sluice_tunnel_rtt_seconds", LABELS) >= 3);
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_up", LABELS));
    double rtt = MetricValues.sum(registry, "sluice_tunnel_rtt_seconds", LABELS);
    assertTrue(rtt > 0 && rtt < 3, "loopback round trips: " + rtt + " s in all");
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_reconnects_total", LABELS));

    agentSides.get(0).close();                                       // the login node drops the connection
    Await.until(Duration.ofSeconds(10), "the tunnel to be down", () -> MetricValues.value(registry, "sluice_tunnel_up", LABELS) == 0);
    Await.ignoring(java.util.concurrent.ExecutionException.class).until(Duration.ofSeconds(10), "a call to go through again",
        () -> probe(g));
    Await.until(Duration.ofSeconds(10), "the tunnel to be up", () -> MetricValues.value(registry, "sluice_tunnel_up", LABELS) == 1);
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_reconnects_total", LABELS));
    assertEquals(2, agentSides.size(), "one new connection");
  }
}
