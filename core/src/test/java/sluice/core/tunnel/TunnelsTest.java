package sluice.core.tunnel;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.testing.TestClock;
import sluice.core.tunnel.TunnelStatus.TunnelState;

/** What an operator reads at /admin/tunnels follows what the transport reports, and the live figures come from pings. */
class TunnelsTest {
  static final ActorTestKit testKit = ActorTestKit.create();

  @AfterAll static void stop() {
    testKit.shutdownTestKit();
  }

  static TunnelStatus status(Tunnels tunnels, String node) throws Exception {
    return tunnels.statuses(Duration.ofSeconds(3)).toCompletableFuture().get(5, TimeUnit.SECONDS).stream()
        .filter(t -> t.node().equals(node)).findFirst().orElseThrow();
  }

  /** Waits until the status of {@code node} satisfies {@code ok} (the actor applies reports asynchronously); returns it. */
  static TunnelStatus await(Tunnels tunnels, String node, String what, Predicate<TunnelStatus> ok) throws Exception {
    return Await.until(Duration.ofSeconds(10), "tunnel " + node + " " + what, () -> status(tunnels, node), ok);
  }

  @Test void followsTheTransportThroughFailureBackoffAndRecovery() throws Exception {
    Tunnels tunnels = Tunnels.start(testKit.system(), Map.of("hpc", List.of("login1", "login2")), Duration.ofMillis(50),
        Clock.systemUTC());
    TunnelObserver observer = tunnels.observer("hpc");
    assertEquals(TunnelState.IDLE, status(tunnels, "login1").state());

    observer.connecting("login1");
    observer.failed("login1", "connection refused", false);
    observer.backingOff(Duration.ofSeconds(4));
    TunnelStatus failed = await(tunnels, "login1", "to have a retry time", s -> s.retryAt() != null);
    assertEquals(TunnelState.BACKING_OFF, failed.state());
    assertEquals("connection refused", failed.reason());
    assertEquals(1, failed.failures());
    assertNotNull(failed.retryAt());

    // Failover: the second node comes up; the first stays as it was.
    tunnels.attach("hpc", node -> CompletableFuture.completedFuture(
        node.equals("login2") ? Optional.of(new TunnelSample(2, 5, Duration.ofMillis(3))) : Optional.empty()));
    observer.connecting("login2");
    observer.up("login2", 2);
    TunnelStatus up = await(tunnels, "login2", "to have a round-trip time", s -> s.roundTripMillis() != null);
    assertEquals(TunnelState.UP, up.state());
    assertEquals(2, up.channels());
    assertEquals(5, up.streams());
    assertEquals(3.0, up.roundTripMillis());
    assertEquals(1, up.connects());
    assertNull(up.reason());
    assertEquals(TunnelState.BACKING_OFF, status(tunnels, "login1").state());

    observer.down("login2", "session_closed: EOF");
    TunnelStatus down = await(tunnels, "login2", "to leave UP", s -> s.state() != TunnelState.UP);
    assertEquals(TunnelState.BACKING_OFF, down.state());
    assertEquals("connection lost: session_closed: EOF", down.reason());
    assertEquals(0, down.channels());
  }

  @Test void anAgentThatAnswersNoPingIsShownUnresponsiveWithTheTimeSinceItsLastAnswerAndUpWhenItAnswers() throws Exception {
    TestClock clock = TestClock.frozen(TestClock.START);
    Tunnels tunnels = Tunnels.start(testKit.system(), Map.of("frozen", List.of("login3")), Duration.ofMillis(50), clock);
    AtomicBoolean answering = new AtomicBoolean(true);
    tunnels.attach("frozen", node -> answering.get()
        ? CompletableFuture.completedFuture(Optional.of(new TunnelSample(1, 2, Duration.ofMillis(4))))
        : CompletableFuture.failedFuture(new ClusterException(ClusterFailure.TUNNEL_UNRESPONSIVE,
            "the agent on login3 has not answered a ping for 10 s")));
    tunnels.observer("frozen").up("login3", 1);
    await(tunnels, "login3", "to have a round-trip time", s -> s.roundTripMillis() != null);

    answering.set(false);
    TunnelStatus stuck = await(tunnels, "login3", "to be unresponsive", s -> s.state() == TunnelState.UNRESPONSIVE);
    assertNull(stuck.roundTripMillis(), "no stale round trip");
    assertEquals("the agent on login3 has not answered a ping for 10 s", stuck.reason());
    clock.advance(Duration.ofSeconds(12));
    TunnelStatus later = status(tunnels, "login3");
    assertEquals(TestClock.START, later.lastAnswerAt());
    assertEquals(12_000L, later.silentMillis());
    assertEquals(TunnelState.UNRESPONSIVE, later.state());

    answering.set(true);
    TunnelStatus back = await(tunnels, "login3", "to be up again", s -> s.state() == TunnelState.UP);
    assertEquals(4.0, back.roundTripMillis());
    assertNull(back.silentMillis());
    assertNull(back.reason());
    assertEquals(clock.instant(), back.lastAnswerAt());
    assertEquals(1, back.connects(), "the same connection: it was never closed");
  }

  @Test void theMetricsShowTheTunnelUpItsPingsAndAReconnectAfterALostConnection() throws Exception {
    var registry = SluiceMetrics.get(testKit.system()).registry;
    String[] labels = {"cluster", "metered", "login_node", "login5"};
    Tunnels tunnels = Tunnels.start(testKit.system(), Map.of("metered", List.of("login5")), Duration.ofMillis(50),
        Clock.systemUTC());
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    assertTrue(MetricValues.exists(registry, "sluice_tunnel_up", labels), "exported from the start, at 0");
    AtomicBoolean answering = new AtomicBoolean(true);
    tunnels.attach("metered", node -> answering.get()
        ? CompletableFuture.completedFuture(Optional.of(new TunnelSample(1, 0, Duration.ofMillis(2))))
        : CompletableFuture.failedFuture(new ClusterException(ClusterFailure.TUNNEL_UNRESPONSIVE, "no answer")));
    TunnelObserver observer = tunnels.observer("metered");
    observer.connecting("login5");
    observer.up("login5", 1);
    Await.until(Duration.ofSeconds(10), "two pings answered", () -> MetricValues.count(registry, "sluice_tunnel_rtt_seconds", labels) >= 2);
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    long pings = MetricValues.count(registry, "sluice_tunnel_rtt_seconds", labels);
    assertEquals(0.002 * pings, MetricValues.sum(registry, "sluice_tunnel_rtt_seconds", labels), 1e-9, "2 ms each");
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_reconnects_total", labels), "the first connection");

    answering.set(false);                                   // an agent that answers no ping takes no calls: down
    await(tunnels, "login5", "to be unresponsive", s -> s.state() == TunnelState.UNRESPONSIVE);
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    answering.set(true);
    await(tunnels, "login5", "to answer again", s -> s.state() == TunnelState.UP);
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_reconnects_total", labels), "the same connection");

    observer.down("login5", "session_closed: EOF");
    await(tunnels, "login5", "to be down", s -> s.state() == TunnelState.BACKING_OFF);
    assertEquals(0.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    observer.connecting("login5");
    observer.up("login5", 1);
    await(tunnels, "login5", "to be up again", s -> s.state() == TunnelState.UP);
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_up", labels));
    assertEquals(1.0, MetricValues.value(registry, "sluice_tunnel_reconnects_total", labels));
  }

  @Test void authenticationAndHostKeyFailuresAreMarkedFailedForAnOperator() throws Exception {
    Tunnels tunnels = Tunnels.start(testKit.system(), Map.of("other", List.of("login9:2222")), Duration.ofSeconds(1),
        Clock.systemUTC());
    tunnels.observer("other").failed("login9:2222", "host key not verified", true);
    tunnels.observer("other").failed("nobody", "ignored: not a configured node", true);
    TunnelStatus s = await(tunnels, "login9:2222", "to leave IDLE", t -> t.state() != TunnelState.IDLE);
    assertEquals(TunnelState.FAILED, s.state());
    assertEquals("host key not verified", s.reason());
    assertEquals("other", s.cluster());
  }
}
