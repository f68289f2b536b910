package sluice.core.tunnel;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.javadsl.AbstractBehavior;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.Receive;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.tunnel.TunnelStatus.TunnelState;

/**
 * The connection from this gateway node to one login node, as operators see it: connecting, up (with channels,
 * streams in flight and ping round trip), unresponsive (up, but the agent answers no ping), backing off or failed
 * with the reason. The transport reports what happens ({@link TunnelObserver}); while up, the actor pings through the
 * connection on a timer, which also keeps idle connections busy so servers that close idle channels do not. A ping
 * the transport reports unanswered ({@link ClusterFailure#TUNNEL_UNRESPONSIVE}) marks the tunnel unresponsive; the
 * next answered one marks it up again. Tunnels are local to a gateway node: not sharded, not persisted.
 *
 * <p>Metrics: {@code sluice_tunnel_up} is 1 only while UP (an unresponsive agent takes no calls, so it counts as down),
 * {@code sluice_tunnel_reconnects_total} counts each connection to this node after its first, and every answered ping
 * is a {@code sluice_tunnel_rtt_seconds} observation.
 */
public final class TunnelActor extends AbstractBehavior<TunnelActor.Command> {
  public sealed interface Command {}

  public record GetStatus(ActorRef<TunnelStatus> replyTo) implements Command {}

  /** The transport's sampler, attached once the transport exists. */
  public record Attach(TunnelObserver.Sampler sampler) implements Command {}

  record Connecting() implements Command {}

  record Up(int channels) implements Command {}

  record Down(String reason) implements Command {}

  record Failed(String reason, boolean fatal) implements Command {}

  record BackingOff(Duration delay) implements Command {}

  private enum Tick implements Command { INSTANCE }

  /** {@code unanswered}: the agent did not answer the ping within the transport's ping timeout. */
  private record Sampled(Optional<TunnelSample> sample, String error, boolean unanswered) implements Command {}

  private final String cluster;
  private final String node;
  private final Clock clock;
  private final GaugeDataPoint up;
  private final CounterDataPoint reconnects;
  private final DistributionDataPoint rtt;
  private TunnelObserver.Sampler sampler;
  private TunnelState state = TunnelState.IDLE;
  private Instant since;
  private String reason;
  private int channels;
  private int streams;
  private Double roundTripMillis;
  private long connects;
  private long failures;
  private Instant retryAt;
  private Instant lastAnswerAt;
  private boolean sampling;

  public static Behavior<Command> create(String cluster, String node, Duration sampleInterval, Clock clock,
                                         SluiceMetrics metrics) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers ->
        new TunnelActor(ctx, timers, cluster, node, sampleInterval, clock, metrics)));
  }

  private TunnelActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, String cluster, String node,
                      Duration sampleInterval, Clock clock, SluiceMetrics metrics) {
    super(ctx);
    this.cluster = cluster;
    this.node = node;
    this.clock = clock;
    this.up = metrics.tunnelUp.labelValues(cluster, node);
    this.reconnects = metrics.tunnelReconnects.labelValues(cluster, node);
    this.rtt = metrics.tunnelRtt.labelValues(cluster, node);
    up.set(0);
    this.since = clock.instant();
    timers.startTimerWithFixedDelay(Tick.INSTANCE, sampleInterval);
  }

  @Override public Receive<Command> createReceive() {
    return newReceiveBuilder()
        .onMessage(GetStatus.class, this::onGetStatus)
        .onMessage(Attach.class, m -> { sampler = m.sampler(); return this; })
        .onMessage(Connecting.class, m -> enter(TunnelState.CONNECTING, null))
        .onMessage(Up.class, this::onUp)
        .onMessage(Down.class, m -> { channels = 0; streams = 0; return enter(TunnelState.BACKING_OFF, "connection lost: " + m.reason()); })
        .onMessage(Failed.class, this::onFailed)
        .onMessage(BackingOff.class, this::onBackingOff)
        .onMessageEquals(Tick.INSTANCE, this::onTick)
        .onMessage(Sampled.class, this::onSampled)
        .build();
  }

  private Behavior<Command> enter(TunnelState next, String why) {
    if (next != state) since = clock.instant();
    state = next;
    reason = why;
    up.set(next == TunnelState.UP ? 1 : 0);
    if (next != TunnelState.BACKING_OFF && next != TunnelState.FAILED) retryAt = null;
    return this;
  }

  private Behavior<Command> onUp(Up m) {
    if (connects > 0) reconnects.inc();
    connects++;
    channels = m.channels();
    streams = 0;
    roundTripMillis = null;
    lastAnswerAt = clock.instant();                  // the handshake was an answer
    return enter(TunnelState.UP, null);
  }

  private Behavior<Command> onFailed(Failed m) {
    failures++;
    channels = 0;
    streams = 0;
    if (m.fatal()) getContext().getLog().error("ALERT: tunnel to {} of cluster {} needs an operator: {}", node, cluster, m.reason());
    return enter(m.fatal() ? TunnelState.FAILED : TunnelState.BACKING_OFF, m.reason());
  }

  private Behavior<Command> onBackingOff(BackingOff m) {
    if (state == TunnelState.BACKING_OFF || state == TunnelState.FAILED) retryAt = clock.instant().plus(m.delay());
    return this;
  }

  private Behavior<Command> onTick() {
    if (!isConnected() || sampler == null || sampling) return this;
    sampling = true;
    getContext().pipeToSelf(sampler.sample(node), (sample, err) -> new Sampled(sample == null ? Optional.empty() : sample,
        err == null ? null : ClusterException.in(err).map(Throwable::getMessage).orElse(String.valueOf(err.getMessage())),
        ClusterException.in(err).filter(e -> e.reason() == ClusterFailure.TUNNEL_UNRESPONSIVE).isPresent()));
    return this;
  }

  private boolean isConnected() { return state == TunnelState.UP || state == TunnelState.UNRESPONSIVE; }

  private Behavior<Command> onSampled(Sampled m) {
    sampling = false;
    if (!isConnected()) return this;
    if (m.unanswered()) {
      roundTripMillis = null;                       // never a stale round trip of an agent that does not answer
      if (state == TunnelState.UP) getContext().getLog().warn("tunnel {} of cluster {} is unresponsive: {}", node, cluster, m.error());
      return enter(TunnelState.UNRESPONSIVE, m.error());
    }
    m.sample().ifPresent(s -> {
      channels = s.channels();
      streams = s.streams();
      roundTripMillis = s.roundTrip().toNanos() / 1e6;
      rtt.observe(s.roundTrip().toNanos() / 1e9);
      lastAnswerAt = clock.instant();
    });
    if (m.error() != null) getContext().getLog().debug("ping through tunnel {} failed: {}", node, m.error());
    if (state == TunnelState.UNRESPONSIVE && m.sample().isPresent()) {
      getContext().getLog().info("tunnel {} of cluster {} answers again after {} s", node, cluster,
          Duration.between(since, clock.instant()).toSeconds());
      return enter(TunnelState.UP, null);
    }
    return this;
  }

  private Behavior<Command> onGetStatus(GetStatus m) {
    Long silent = state == TunnelState.UNRESPONSIVE && lastAnswerAt != null
        ? Duration.between(lastAnswerAt, clock.instant()).toMillis() : null;
    m.replyTo().tell(new TunnelStatus(cluster, node, state, since, reason, channels, streams, roundTripMillis, connects,
        failures, retryAt, lastAnswerAt, silent));
    return this;
  }
}
