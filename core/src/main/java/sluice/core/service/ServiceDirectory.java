package sluice.core.service;

import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.sharding.typed.ClusterShardingSettings;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.Entity;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityRef;
import sluice.core.Asks;
import sluice.core.cluster.ClusterGateways;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;

/**
 * The edge's way to the services: starts the sharded {@link ServiceActor}s (remembered, so they come back with their
 * jobs after a restart or a rebalance) and wraps the asks the edge needs.
 */
public final class ServiceDirectory {
  /** At most one {@link ServiceActor.ReplicaAnswered} per replica per this long from this node. */
  private static final long ANSWERED_EVERY_NANOS = Duration.ofMillis(500).toNanos();
  private static final int MAX_ANSWERED_REMEMBERED = 4096;

  private final ClusterSharding sharding;
  private final ConcurrentHashMap<String, Long> answeredTold = new ConcurrentHashMap<>();
  private final CoreSettings core;

  private ServiceDirectory(ClusterSharding sharding, CoreSettings core) {
    this.sharding = sharding;
    this.core = core;
  }

  public static ServiceDirectory start(ActorSystem<?> system, CoreSettings core, ClusterGateways gateways, Clock clock) {
    ClusterSharding sharding = ClusterSharding.get(system);
    sharding.init(Entity.of(ServiceActor.TYPE_KEY, ctx -> core.service(ctx.getEntityId())
            .map(s -> ServiceActor.create(s, core, gateways.get(s.cluster()), clock))
            // A remembered entity whose service was removed from the config: keep it idle rather than restart it forever.
            .orElseGet(Behaviors::ignore))
        .withSettings(ClusterShardingSettings.create(system).withRememberEntities(true)));
    ServiceDirectory directory = new ServiceDirectory(sharding, core);
    core.services().keySet().forEach(id -> directory.ref(id).tell(ServiceActor.Wake.INSTANCE));
    return directory;
  }

  public Optional<ServiceSettings> settings(String id) { return core.service(id); }

  public List<String> ids() { return core.services().keySet().stream().sorted().toList(); }

  /**
   * Waits for a replica up to the service's queue wait (the actor answers by then), plus the ask timeout. The ask is
   * repeated every ask timeout with the same lease id (the actor answers a repeat, it does not count it again), so a
   * service whose node has died meanwhile is reached again once it runs on another node.
   */
  public CompletionStage<LeaseReply> acquire(ServiceSettings service, String leaseId, String user, String avoid) {
    long waitEnds = System.nanoTime() + service.maxQueueWait().toNanos();
    return Asks.retryingOnTimeout(timeout -> ref(service.id()).ask(replyTo -> new ServiceActor.Acquire(leaseId, user, avoid,
            Duration.ofNanos(Math.max(0, waitEnds - System.nanoTime())), replyTo), timeout),
        core.askTimeout(), max(service.maxQueueWait(), core.failoverWait()).plus(core.askTimeout()));
  }

  /** Ends a lease; {@code replicaFailed} when its replica failed before answering (it is health-checked at once). */
  public void release(String service, String leaseId, boolean replicaFailed) {
    ref(service).tell(new ServiceActor.Release(leaseId, replicaFailed));
  }

  /**
   * A replica's model server began answering a request (its response head came back). Told at most twice a second per
   * replica: its health checks need to know that it answers (a busy server may answer them late), not how often.
   */
  public void answered(String service, String jobId) {
    long now = System.nanoTime();
    String key = service + '/' + jobId;
    Long last = answeredTold.get(key);
    if (last != null && now - last < ANSWERED_EVERY_NANOS) return;
    if (answeredTold.size() >= MAX_ANSWERED_REMEMBERED) answeredTold.clear();   // ended replicas: one extra tell each
    answeredTold.put(key, now);
    ref(service).tell(new ServiceActor.ReplicaAnswered(jobId));
  }

  public CompletionStage<AdminReply> scale(String service, int min, int max) {
    return Asks.plain(ref(service).ask(replyTo -> new ServiceActor.SetScale(min, max, replyTo), core.askTimeout()));
  }

  public CompletionStage<AdminReply> drain(String service, String jobId) {
    return Asks.plain(ref(service).ask(replyTo -> new ServiceActor.DrainReplica(jobId, replyTo), core.askTimeout()));
  }

  /**
   * One service's status. A read, so it is asked again while unanswered (up to the fail-over wait): a service whose
   * node has just died answers once it runs on a survivor, rather than the operator getting an error meanwhile.
   */
  public CompletionStage<ServiceStatus> status(String service) {
    return Asks.retryingOnTimeout(timeout -> ref(service).ask(ServiceActor.GetStatus::new, timeout), core.askTimeout(),
        core.failoverWait());
  }

  /** One service's status from a single ask: fails after the ask timeout (for answers that must not wait). */
  public CompletionStage<ServiceStatus> statusNow(String service) {
    return Asks.plain(ref(service).ask(ServiceActor.GetStatus::new, core.askTimeout()));
  }

  /** The status of every configured service; a service that does not answer in time is left out. */
  public CompletionStage<List<ServiceStatus>> statuses() {
    List<CompletableFuture<Optional<ServiceStatus>>> all = new ArrayList<>();
    for (String id : ids()) {
      all.add(statusNow(id).toCompletableFuture().thenApply(Optional::of).exceptionally(e -> Optional.empty()));
    }
    return CompletableFuture.allOf(all.toArray(CompletableFuture[]::new))
        .thenApply(v -> all.stream().map(CompletableFuture::join).flatMap(Optional::stream).toList());
  }

  private static Duration max(Duration a, Duration b) { return a.compareTo(b) >= 0 ? a : b; }

  private EntityRef<ServiceActor.Command> ref(String id) {
    return sharding.entityRefFor(ServiceActor.TYPE_KEY, id);
  }
}
