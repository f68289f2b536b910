package sluice.edge.dashboard;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.ActorAttributes;
import org.apache.pekko.stream.OverflowStrategy;
import org.apache.pekko.stream.Supervision;
import org.apache.pekko.stream.javadsl.BroadcastHub;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.Stages;
import sluice.core.service.ServiceDirectory;
import sluice.core.service.ServiceStatus;
import sluice.core.tunnel.Tunnels;
import sluice.persistence.usage.TrafficMinute;
import sluice.persistence.usage.UsageStore;
import sluice.persistence.usage.UserTokens;

/**
 * The dashboard's live data on one gateway node, shared by every browser watching it: one stream takes the services'
 * state every {@code state-interval} and broadcasts it (a {@link BroadcastHub}) only when it changed; while anyone
 * watches, another queries the usage table every {@code traffic-interval}. A browser that connects gets the latest of
 * both at once. Services come from their sharded actors (all of the cluster's), tunnels from every node
 * ({@link TunnelBoard}), traffic from the database all nodes share: every node shows the whole cluster.
 */
public final class DashboardFeed {
  private static final Logger LOG = LoggerFactory.getLogger(DashboardFeed.class);
  private static final ByteString KEEP_ALIVE = ByteString.fromString(": keep-alive\n\n");
  private static final int EVENTS_KEPT = 50;
  private static final int TOP_USERS = 10;
  /** A browser that reads slower than frames come loses the older ones: each state event is the whole state. */
  private static final int CLIENT_BUFFER = 16;
  private static final Duration FIRST_TRAFFIC_WAIT = Duration.ofSeconds(5);

  enum Kind { STATE, TRAFFIC }

  /** One SSE event; {@code seq} orders the frames of one node. */
  record Frame(Kind kind, long seq, ByteString bytes) {}

  private record Gathered(List<ServiceStatus> services, Instant at) {}

  /** Where the feed's figures come from: the gateway's services and usage table ({@link #of}), or a test's. */
  public interface Sources {
    /** Every configured service's status; a service that does not answer in time is left out. */
    CompletionStage<List<ServiceStatus>> statuses();

    List<String> serviceIds();

    /** A blocking database query (see {@link UsageStore#traffic}). */
    List<TrafficMinute> traffic(Instant from, Instant to) throws Exception;

    /** A blocking database query (see {@link UsageStore#topUsers}). */
    List<UserTokens> topUsers(Instant from, Instant to, int limit) throws Exception;

    static Sources of(ServiceDirectory services, UsageStore usage) {
      return new Sources() {
        @Override public CompletionStage<List<ServiceStatus>> statuses() { return services.statuses(); }
        @Override public List<String> serviceIds() { return services.ids(); }
        @Override public List<TrafficMinute> traffic(Instant from, Instant to) throws Exception { return usage.traffic(from, to); }
        @Override public List<UserTokens> topUsers(Instant from, Instant to, int limit) throws Exception {
          return usage.topUsers(from, to, limit);
        }
      };
    }
  }

  private final Sources sources;
  private final TunnelBoard tunnels;
  private final Executor blocking;
  private final Clock clock;
  private final Duration keepAlive;
  private final DashboardSettings settings;
  private final AtomicInteger watchers = new AtomicInteger();
  private final AtomicLong seq = new AtomicLong();
  private final JobEvents events = new JobEvents(EVENTS_KEPT);
  private volatile Frame lastState;
  private volatile Frame lastTraffic;
  private volatile Instant lastTrafficAt = Instant.MIN;
  private ObjectNode lastContent;                                      // the state stream's own
  private CompletableFuture<Frame> query;                              // guarded by this
  private final Source<Frame, NotUsed> hub;

  private DashboardFeed(ActorSystem<?> system, Sources sources, TunnelBoard tunnels, Executor blocking,
                        DashboardSettings settings, Duration keepAlive, Clock clock) {
    this.sources = sources;
    this.tunnels = tunnels;
    this.blocking = blocking;
    this.settings = settings;
    this.keepAlive = keepAlive;
    this.clock = clock;
    Source<Frame, ?> state = Source.tick(Duration.ZERO, settings.stateInterval(), Kind.STATE)
        .mapAsync(1, t -> gather())
        .mapConcat(this::stateFrame);
    Source<Frame, ?> traffic = Source.tick(settings.trafficInterval(), settings.trafficInterval(), Kind.TRAFFIC)
        .filter(t -> watchers.get() > 0)                               // nobody watching: no queries
        .mapAsync(1, t -> trafficFrame().thenApply(List::of).exceptionally(this::noTraffic))
        .mapConcat(l -> l);
    this.hub = state.merge(traffic)
        .buffer(4, OverflowStrategy.dropHead())                        // never held up, watched or not
        .withAttributes(ActorAttributes.withSupervisionStrategy(e -> {
          LOG.warn("dashboard feed: a snapshot failed: {}", e.toString());
          return (Supervision.Directive) Supervision.resume();
        }))
        .toMat(BroadcastHub.of(Frame.class, 32), Keep.right())
        .run(system);
  }

  /** Starts this node's feed and its part of the cluster's tunnel board. */
  public static DashboardFeed start(ActorSystem<?> system, ServiceDirectory services, Tunnels tunnels, UsageStore usage,
                                    Executor blocking, DashboardSettings settings, Duration keepAlive, Clock clock) {
    // A node's tunnels are kept a few rounds, so one late answer does not make a node blink out.
    Duration maxAge = settings.stateInterval().multipliedBy(3).plusSeconds(3);
    return start(system, Sources.of(services, usage), TunnelBoard.start(system, tunnels, maxAge, clock), blocking,
        settings, keepAlive, clock);
  }

  /** As above, from any {@link Sources}. */
  public static DashboardFeed start(ActorSystem<?> system, Sources sources, TunnelBoard tunnels, Executor blocking,
                                    DashboardSettings settings, Duration keepAlive, Clock clock) {
    return new DashboardFeed(system, sources, tunnels, blocking, settings, keepAlive, clock);
  }

  /** Browsers connected to this node now. */
  public int watchers() { return watchers.get(); }

  /**
   * One browser's SSE stream: the latest state and traffic at once, then every change, with keep-alive comments.
   * It joins the hub before reading the latest frames, and skips hub frames not newer than those, so no change falls
   * between the two and none comes twice.
   */
  public Source<ByteString, NotUsed> stream() {
    return Source.fromMaterializer((mat, attributes) -> {
      watchers.incrementAndGet();
      Frame state = lastState;
      Frame traffic = lastTraffic;
      long stateSeq = state == null ? -1 : state.seq();
      long trafficSeq = traffic == null ? -1 : traffic.seq();
      CompletionStage<List<Frame>> first = currentTraffic(traffic).thenApply(t -> {
        List<Frame> frames = new ArrayList<>();
        if (state != null) frames.add(state);
        if (t != null) frames.add(t);
        return frames;
      });
      Source<Frame, NotUsed> live = hub.buffer(CLIENT_BUFFER, OverflowStrategy.dropHead())
          .filter(f -> f.seq() > (f.kind() == Kind.STATE ? stateSeq : trafficSeq));
      return Source.completionStage(first).<Frame>mapConcat(l -> l).concat(live)
          .map(Frame::bytes)
          .keepAlive(keepAlive, () -> KEEP_ALIVE)
          .watchTermination((m, done) -> {
            Stages.whenDone(done, (d, e) -> watchers.decrementAndGet());
            return m;
          });
    }).mapMaterializedValue(m -> NotUsed.getInstance());
  }

  /** The latest traffic frame if it is recent, else a new one (none if the database does not answer soon). */
  private CompletionStage<Frame> currentTraffic(Frame latest) {
    if (latest != null && lastTrafficAt.isAfter(clock.instant().minus(settings.trafficInterval()))) {
      return CompletableFuture.completedFuture(latest);
    }
    // A copy times out, not the shared query.
    return trafficFrame().thenApply(f -> f).orTimeout(FIRST_TRAFFIC_WAIT.toMillis(), TimeUnit.MILLISECONDS)
        .exceptionally(e -> {
          noTraffic(e);
          return null;
        });
  }

  private CompletionStage<Gathered> gather() {
    tunnels.request();                                                 // answers arrive for the next round
    return sources.statuses().thenApply(s -> new Gathered(s, clock.instant()));
  }

  /** The events since the last look, and the state frame if anything changed. */
  private List<Frame> stateFrame(Gathered g) {
    List<JobEvents.Event> recent = events.observe(g.services(), g.at());
    ObjectNode content = DashboardJson.state(tunnels.self(), keepAlive, g.services(), tunnels.latest(), recent);
    if (content.equals(lastContent)) return List.of();
    lastContent = content;
    Frame f = frame(Kind.STATE, DashboardJson.stamped(content, g.at()));
    lastState = f;
    return List.of(f);
  }

  /** A new traffic frame; browsers connecting while a query runs share it (a reconnect storm makes one query). */
  private synchronized CompletableFuture<Frame> trafficFrame() {
    if (query != null && !query.isDone()) return query;
    query = CompletableFuture.supplyAsync(() -> {
      Instant now = clock.instant();
      Instant today = DashboardJson.today(now);
      try {
        var minutes = sources.traffic(DashboardJson.firstMinute(now), now.plusMillis(1));
        var top = sources.topUsers(today, now.plusMillis(1), TOP_USERS);
        Frame f = frame(Kind.TRAFFIC, DashboardJson.traffic(now, sources.serviceIds(), minutes, today, top));
        lastTraffic = f;
        lastTrafficAt = now;
        return f;
      } catch (Exception e) {
        throw new IllegalStateException("usage query failed: " + e.getMessage(), e);
      }
    }, blocking);
    return query;
  }

  private List<Frame> noTraffic(Throwable e) {
    LOG.warn("dashboard feed: no traffic figures: {}", e.toString());
    return List.of();
  }

  private Frame frame(Kind kind, ObjectNode json) {
    String name = kind == Kind.STATE ? "state" : "traffic";
    return new Frame(kind, seq.incrementAndGet(), ByteString.fromString("event: " + name + "\ndata: " + json + "\n\n"));
  }
}
