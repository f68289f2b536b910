package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;
import java.util.function.Function;
import java.util.function.LongSupplier;
import sluice.core.config.ServiceSettings;
import sluice.core.policy.FairQueue;
import sluice.core.policy.ReplicaChooser;
import sluice.core.policy.ReplicaLoad;

/**
 * Who holds a replica and who waits for one: the leases and requests in flight per replica, the admission queue (fair
 * between users, bounded by max-queue) and the measured time a request holds a replica. Plain Java, owned by one
 * service actor, which says which replicas may take traffic and keeps the queue-wait timers.
 *
 * @param <W> where a request's answer goes (the actor's reply address)
 */
final class LeaseBroker<W> {
  /** A lease ended: its replica and whether that replica now has nothing in flight. */
  record Released(String jobId, boolean replicaIdle) {}

  /** @param node the gateway node whose request holds it ("" for this node) */
  private record Lease(String jobId, Instant grantedAt, String node) {}

  /** A queued request: its gateway node ("" for this one) and when it started waiting. */
  private record Waiting(String node, Instant since) {}

  /** Where the broker reports its queue: the service's metrics ({@link ServiceMeters}). */
  interface QueueMeter {
    QueueMeter NONE = new QueueMeter() {
      @Override public void queued(int length) {}
      @Override public void granted(Duration waited) {}
    };

    /** Requests waiting now, after each change of the queue. */
    void queued(int length);

    /** A new lease was granted after {@code waited} in the queue; zero when granted at once. */
    void granted(Duration waited);
  }

  /** What a node's departure ended: the leases it held, and the queued requests dropped (their timers to cancel). */
  record Departed(List<Released> released, List<String> dropped) {
    boolean any() { return !released.isEmpty() || !dropped.isEmpty(); }

    @Override public String toString() { return "released its " + released.size() + " leases, dropped its " + dropped.size() + " queued requests"; }
  }

  /** Why a request is refused at once rather than queued (waiting could not help); a negative hint: the estimate. */
  record Refusal(LeaseRefusal reason, String why, long retryAfterSeconds) {
    /** Retry-After while the cluster's agent does not answer: its replicas are checked again every probe interval. */
    static final long UNRESPONSIVE_RETRY_AFTER_SECONDS = 5;

    /**
     * Whether to refuse every request now, or null: the service is degraded (nothing it starts becomes ready), or its
     * ready replicas are cut off by an agent that does not answer.
     */
    static Refusal now(StartHealth health, Replicas replicas, ServiceSettings settings, Instant now) {
      if (health.refusesRequests(replicas.starting(), settings.maxQueueWait(), now)) {
        return new Refusal(LeaseRefusal.DEGRADED, health.unavailableBecause(), -1);
      }
      if (replicas.cutOffByUnresponsiveAgent()) {
        return new Refusal(LeaseRefusal.TUNNEL_UNRESPONSIVE, "the agent of cluster " + settings.cluster() + " does not answer",
            UNRESPONSIVE_RETRY_AFTER_SECONDS);
      }
      return null;
    }
  }

  private final ServiceSettings settings;
  private final BiConsumer<W, LeaseReply> send;
  private final Function<W, String> nodeOf;
  private final QueueMeter meter;
  private final Map<String, Waiting> queuedFrom = new HashMap<>();     // lease id → node and time, for the requests queued
  private final Map<String, Integer> inFlight = new HashMap<>();
  private final Map<String, Lease> leases = new HashMap<>();
  private final FairQueue<W> queue = new FairQueue<>();
  private Duration requestTime = Duration.ofSeconds(1);

  /** Every request on this node (no departures). */
  LeaseBroker(ServiceSettings settings, BiConsumer<W, LeaseReply> send) { this(settings, send, w -> "", QueueMeter.NONE); }

  /**
   * @param nodeOf the gateway node a reply address belongs to ("" for this one), for {@link #nodeLeft}
   * @param meter  told of the queue's length and of each grant's wait
   */
  LeaseBroker(ServiceSettings settings, BiConsumer<W, LeaseReply> send, Function<W, String> nodeOf, QueueMeter meter) {
    this.settings = settings;
    this.send = send;
    this.nodeOf = nodeOf;
    this.meter = meter;
  }

  /**
   * Grants a replica of {@code routable} (oldest first) that has room, else refuses (a full queue, or
   * {@code refused} (nullable) when waiting is pointless), else queues the request. Returns true when it waits: the caller
   * starts its queue-wait timer and re-evaluates, since the request is a demand step.
   *
   * @param avoid a replica that just failed this request (nullable): its one retry goes elsewhere
   */
  boolean acquire(String leaseId, String user, String avoid, W waiter, List<String> routable, Refusal refused,
                  LongSupplier retryAfterSeconds, Instant now) {
    // A repeated request (its ask timed out, maybe because the answer was lost): answered again, never counted twice.
    Lease held = leases.get(leaseId);
    if (held != null) {
      send.accept(waiter, new LeaseReply.Granted(settings.id(), settings.cluster(), held.jobId(), leaseId));
      return false;
    }
    if (queue.replace(leaseId, waiter)) return false;
    Optional<String> job = choose(routable, avoid);
    if (job.isPresent()) {
      grant(leaseId, waiter, job.get(), now, Duration.ZERO);
    } else if (refused != null) {
      send.accept(waiter, new LeaseReply.Unavailable(refused.reason(), "model " + settings.id() + " is unavailable: "
          + refused.why(), refused.retryAfterSeconds() >= 0 ? refused.retryAfterSeconds() : retryAfterSeconds.getAsLong()));
    } else if (queue.size() >= settings.maxQueue()) {
      send.accept(waiter, new LeaseReply.Unavailable(LeaseRefusal.QUEUE_FULL, "the queue of " + settings.id() + " is full ("
          + settings.maxQueue() + " requests waiting)", retryAfterSeconds.getAsLong()));
    } else {
      // Once waiting, a retry may take any routable replica: the one that failed it was health-checked at once and is
      // routable only if it passed (else a lone replica that recovered would never get the request).
      queue.add(leaseId, user, waiter);
      queuedFrom.put(leaseId, new Waiting(nodeOf.apply(waiter), now));
      meter.queued(queue.size());
      return true;
    }
    return false;
  }

  /** Grants waiting requests, fairly between users, while one of {@code routable} has room; returns their lease ids. */
  List<String> serveWaiters(List<String> routable, Instant now) {
    List<String> served = new ArrayList<>();
    while (!queue.isEmpty()) {
      Optional<String> job = choose(routable, null);
      if (job.isEmpty()) break;
      Map.Entry<String, W> next = queue.poll().orElseThrow();
      Waiting waited = queuedFrom.remove(next.getKey());
      served.add(next.getKey());
      meter.queued(queue.size());            // before the grant goes out: whoever it reaches sees the queue without it
      grant(next.getKey(), next.getValue(), job.get(), now, waited == null ? Duration.ZERO : Duration.between(waited.since(), now));
    }
    return served;
  }

  /** How long a new request may wait: the service's queue wait, or less if its node waits less (nullable: no limit). */
  Duration queueWait(Duration asked) {
    return asked == null || asked.compareTo(settings.maxQueueWait()) > 0 ? settings.maxQueueWait() : asked;
  }

  /** The request waited max-queue-wait without a replica (unless it was served meanwhile): refuses it. */
  void expire(String leaseId, LongSupplier retryAfterSeconds) {
    queuedFrom.remove(leaseId);
    queue.remove(leaseId).ifPresent(w -> {
      meter.queued(queue.size());
      send.accept(w, new LeaseReply.Unavailable(LeaseRefusal.QUEUE_TIMEOUT, "no replica of " + settings.id()
          + " could take the request within " + settings.maxQueueWait().toSeconds() + " s", retryAfterSeconds.getAsLong()));
    });
  }

  Optional<Released> release(String leaseId, Instant now) {
    Lease lease = leases.remove(leaseId);
    if (lease == null) return Optional.empty();
    inFlight.computeIfPresent(lease.jobId(), (k, n) -> n > 1 ? n - 1 : null);
    Duration held = Duration.between(lease.grantedAt(), now);
    requestTime = requestTime.multipliedBy(7).plus(held.multipliedBy(3)).dividedBy(10);
    return Optional.of(new Released(lease.jobId(), !inFlight.containsKey(lease.jobId())));
  }

  /**
   * A gateway node left the cluster (or was downed): its requests will never release their leases nor read an answer.
   * Their leases end as if released, their queued requests are dropped without an answer.
   */
  Departed nodeLeft(String node, Instant now) {
    List<Released> released = new ArrayList<>();
    for (String id : leases.entrySet().stream().filter(e -> e.getValue().node().equals(node)).map(Map.Entry::getKey).toList()) {
      release(id, now).ifPresent(released::add);
    }
    List<String> dropped = queuedFrom.entrySet().stream().filter(e -> e.getValue().node().equals(node)).map(Map.Entry::getKey).toList();
    dropped.forEach(id -> {
      queuedFrom.remove(id);
      queue.remove(id);
    });
    if (!dropped.isEmpty()) meter.queued(queue.size());
    return new Departed(released, dropped);
  }

  /** The replica's job ended; leases still held on it count as demand until their requests release them. */
  void forget(String jobId) { inFlight.remove(jobId); }

  int inFlight(String jobId) { return inFlight.getOrDefault(jobId, 0); }

  /** What the autoscaler sees: requests holding a replica plus requests waiting for one. */
  int demand() { return leases.size() + queue.size(); }

  int queued() { return queue.size(); }

  Map<String, Integer> queuedPerUser() { return queue.perUser(); }

  /** Moving average of the time a request holds a replica (1 s until measured). */
  Duration requestTime() { return requestTime; }

  private Optional<String> choose(List<String> routable, String avoid) {
    List<ReplicaLoad> loads = routable.stream().map(j -> new ReplicaLoad(j, true, inFlight(j))).toList();
    return ReplicaChooser.pick(loads, settings.maxInflightPerReplica(), avoid);
  }

  private void grant(String leaseId, W waiter, String jobId, Instant now, Duration waited) {
    meter.granted(waited);
    inFlight.merge(jobId, 1, Integer::sum);
    leases.put(leaseId, new Lease(jobId, now, nodeOf.apply(waiter)));
    send.accept(waiter, new LeaseReply.Granted(settings.id(), settings.cluster(), jobId, leaseId));
  }
}
