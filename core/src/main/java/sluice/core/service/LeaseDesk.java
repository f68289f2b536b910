package sluice.core.service;

import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.function.LongSupplier;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.slf4j.Logger;
import sluice.core.config.ServiceSettings;

/**
 * The lease side of a service actor: the {@link LeaseBroker}, one queue-wait timer per waiting request (keyed by its
 * lease id), serving waiters when a replica has room, and what a gateway node's departure releases. The actor decides
 * when to re-evaluate from what these methods return.
 */
final class LeaseDesk {
  private final LeaseBroker<ActorRef<LeaseReply>> broker;
  private final TimerScheduler<ServiceActor.Command> timers;
  private final ServiceSettings settings;
  private final Replicas replicas;
  private final StartHealth health;
  private final Clock clock;
  private final Logger log;

  LeaseDesk(LeaseBroker<ActorRef<LeaseReply>> broker, TimerScheduler<ServiceActor.Command> timers, ServiceSettings settings,
            Replicas replicas, StartHealth health, Clock clock, Logger log) {
    this.broker = broker;
    this.timers = timers;
    this.settings = settings;
    this.replicas = replicas;
    this.health = health;
    this.clock = clock;
    this.log = log;
  }

  LeaseBroker<ActorRef<LeaseReply>> broker() { return broker; }

  /** Grants, refuses or queues the request; true when it waits (a demand step: the actor evaluates at once). */
  boolean acquire(ServiceActor.Acquire a, LongSupplier retryAfterSeconds) {
    Instant now = clock.instant();
    LeaseBroker.Refusal refused = LeaseBroker.Refusal.now(health, replicas, settings, now);
    if (!broker.acquire(a.leaseId(), a.user(), a.avoid(), a.replyTo(), replicas.routable(), refused, retryAfterSeconds, now)) {
      return false;
    }
    timers.startSingleTimer(a.leaseId(), new ServiceActor.WaitExpired(a.leaseId()), broker.queueWait(a.maxWait()));
    return true;
  }

  /** Ends a lease (if this incarnation granted it) and gives its room to a waiting request. */
  Optional<LeaseBroker.Released> release(String leaseId) {
    Optional<LeaseBroker.Released> released = broker.release(leaseId, clock.instant());
    if (released.isPresent()) serveWaiters();
    return released;
  }

  /** A gateway node left: its leases end, its queued requests are dropped. True when leases were released. */
  boolean nodeLeft(String node) {
    LeaseBroker.Departed gone = broker.nodeLeft(node, clock.instant());
    gone.dropped().forEach(timers::cancel);
    if (gone.any()) log.info("{}: node {} left: {}", settings.id(), node, gone);
    serveWaiters();
    return !gone.released().isEmpty();
  }

  /** Grants waiting requests while a routable replica has room; their queue-wait timers stop. */
  void serveWaiters() { broker.serveWaiters(replicas.routable(), clock.instant()).forEach(timers::cancel); }
}
