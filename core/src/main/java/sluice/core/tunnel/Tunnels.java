package sluice.core.tunnel;

import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.Asks;

/** The {@link TunnelActor}s of this gateway node, one per cluster and login node, and the observers that feed them. */
public final class Tunnels {
  private final ActorSystem<?> system;
  private final Map<String, Map<String, ActorRef<TunnelActor.Command>>> byCluster;

  private Tunnels(ActorSystem<?> system, Map<String, Map<String, ActorRef<TunnelActor.Command>>> byCluster) {
    this.system = system;
    this.byCluster = byCluster;
  }

  /**
   * Starts one actor per node; {@code nodes} maps each cluster to its login nodes in failover order. They sample every
   * {@code sluice.tunnel-sample-interval} (core's reference.conf). Their metrics go to the system's {@link SluiceMetrics}.
   */
  public static Tunnels start(ActorSystem<?> system, Map<String, List<String>> nodes, Clock clock) {
    return start(system, nodes, system.settings().config().getDuration("sluice.tunnel-sample-interval"), clock);
  }

  /** As {@link #start(ActorSystem, Map, Clock)}, sampling every {@code sampleInterval}. */
  public static Tunnels start(ActorSystem<?> system, Map<String, List<String>> nodes, Duration sampleInterval, Clock clock) {
    SluiceMetrics metrics = SluiceMetrics.get(system);
    Map<String, Map<String, ActorRef<TunnelActor.Command>>> refs = new LinkedHashMap<>();
    nodes.forEach((cluster, list) -> {
      Map<String, ActorRef<TunnelActor.Command>> perNode = new LinkedHashMap<>();
      for (String node : list) {
        String name = "tunnel-" + URLEncoder.encode(cluster + "-" + node, StandardCharsets.UTF_8);
        perNode.put(node, system.systemActorOf(TunnelActor.create(cluster, node, sampleInterval, clock, metrics), name, Props.empty()));
      }
      refs.put(cluster, perNode);
    });
    return new Tunnels(system, refs);
  }

  /** The observer a cluster's transport reports to. Events for a node nobody configured are dropped. */
  public TunnelObserver observer(String cluster) {
    Map<String, ActorRef<TunnelActor.Command>> nodes = byCluster.getOrDefault(cluster, Map.of());
    return new TunnelObserver() {
      private void tell(String node, TunnelActor.Command c) {
        ActorRef<TunnelActor.Command> ref = nodes.get(node);
        if (ref != null) ref.tell(c);
      }
      @Override public void connecting(String node) { tell(node, new TunnelActor.Connecting()); }
      @Override public void up(String node, int channels) { tell(node, new TunnelActor.Up(channels)); }
      @Override public void down(String node, String reason) { tell(node, new TunnelActor.Down(reason)); }
      @Override public void failed(String node, String reason, boolean fatal) { tell(node, new TunnelActor.Failed(reason, fatal)); }
      @Override public void backingOff(Duration delay) { nodes.values().forEach(r -> r.tell(new TunnelActor.BackingOff(delay))); }
    };
  }

  public void attach(String cluster, TunnelObserver.Sampler sampler) {
    byCluster.getOrDefault(cluster, Map.of()).values().forEach(r -> r.tell(new TunnelActor.Attach(sampler)));
  }

  /** Every tunnel's status, in configuration order; a tunnel that does not answer in time is left out. */
  public CompletionStage<List<TunnelStatus>> statuses(Duration timeout) {
    List<CompletableFuture<Optional<TunnelStatus>>> all = new ArrayList<>();
    byCluster.values().forEach(nodes -> nodes.values().forEach(ref -> all.add(
        Asks.plain(AskPattern.<TunnelActor.Command, TunnelStatus>ask(ref, TunnelActor.GetStatus::new, timeout, system.scheduler()))
            .thenApply(Optional::of).exceptionally(e -> Optional.empty()))));
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
        .thenApply(v -> all.stream().map(CompletableFuture::join).flatMap(Optional::stream).toList());
  }
}
