package sluice.core.service;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Consumer;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.PostStop;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;
import sluice.core.Departures;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.job.SlurmJobActor;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.policy.Backoff;

/**
 * One model, served by Slurm jobs: sharded by service id, event-sourced, parent of one {@link SlurmJobActor} per job.
 *
 * <p>Persisted: the jobs it owns, its submission intents and an operator's scale override. An intent (a unique tag)
 * is stored before the job is submitted, so after a crash the tag finds the job on the cluster and nothing is
 * submitted twice. Runtime only: {@link Replicas}, {@link LeaseBroker}, {@link ScaleTracker}, {@link StartHealth}.
 *
 * <p>Decisions come from pure policies (Autoscaler, ReplicaPlanner, {@link ReplicaDeadlines}, {@link ListingReconciler}
 * and others); this actor feeds them what it observes and applies what they return. It re-evaluates on every change it
 * sees (a queued request, a replica's report) and on a one-second tick, so a demand step is acted on at once.
 */
public final class ServiceActor
    extends EventSourcedBehaviorWithEnforcedReplies<ServiceActor.Command, ServiceActor.Event, ServiceActor.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Service");
  private static final Duration EVALUATE_EVERY = Duration.ofSeconds(1);
  private static final int LOG_TAIL_LINES = 40;

  // ---------------------------------------------------------------- protocol

  public sealed interface Command extends CborSerializable {}
  /** Starts the entity (and its jobs) without asking anything; sent for every configured service at start-up. */
  public enum Wake implements Command { INSTANCE }

  /**
   * Asks for a ready replica, waiting in the queue up to the service's queue wait. {@code leaseId} must be unique per
   * request; {@code user} makes the queue fair between users; {@code avoid} (nullable) is a replica that just failed
   * this request, so its one retry goes elsewhere; {@code maxWait} (nullable) shortens the queue wait to what the
   * asking node still waits. A repeated Acquire (same lease id) is answered again, never counted twice.
   */
  public record Acquire(String leaseId, String user, String avoid, Duration maxWait, ActorRef<LeaseReply> replyTo)
      implements Command {}

  /** The request holding this lease has ended; {@code replicaFailed} when its replica failed before answering. */
  public record Release(String leaseId, boolean replicaFailed) implements Command {}
  /** A replica's model server began answering a request: its health check may time out on a busy server. */
  public record ReplicaAnswered(String jobId) implements Command {}
  public record GetStatus(ActorRef<ServiceStatus> replyTo) implements Command {}
  /** An operator's replica bounds; they override the configured ones until changed again. */
  public record SetScale(int min, int max, ActorRef<AdminReply> replyTo) implements Command {}
  /** An operator drains one replica: no new requests, running ones finish (up to drain-timeout), then it is cancelled. */
  public record DrainReplica(String jobId, ActorRef<AdminReply> replyTo) implements Command {}
  /** A child's report, through a message adapter. */
  record ReplicaChanged(ReplicaView view) implements Command {}

  // Internal messages: ticks, and the answers of the cluster calls (see Outbox).
  enum Tick implements Command { POLL, EVALUATE }
  /** The {@code step}-th extra listing after a submission's answer (see {@link PollPace}). */
  record PollSoon(int step) implements Command {}
  /** A job listing; {@code asked} is when this actor asked for it (see {@link ListingReconciler}). */
  record Polled(List<JobSnapshot> jobs, Instant asked) implements Command {}
  record PollFailed(String reason) implements Command {}
  record SubmitSucceeded(String tag, JobSnapshot job) implements Command {}
  record SubmitFailed(String tag, String reason) implements Command {}
  record CancelFailed(String jobId, String reason) implements Command {}
  record LogTailFetched(String jobId, List<String> lines) implements Command {}
  record WaitExpired(String leaseId) implements Command {}
  private record ChildStopped(String jobId) implements Command {}
  private record NodeLeft(String node) implements Command {}
  /** One key per timer, so starting one never replaces another; a queue-wait timer is keyed by its lease id. */
  private enum TimerKey { POLL, POLL_SOON, EVALUATE, BACKOFF }

  public sealed interface Event extends CborSerializable {}
  public record Created(Instant at) implements Event {}
  /** About to submit a job tagged {@code tag}. */
  public record SubmitIntended(String tag, Instant at) implements Event {}
  /** The job submitted (or found again) for {@code tag}. */
  public record JobTracked(String tag, String jobId, Instant at) implements Event {}
  /** No job came of {@code tag}. */
  public record IntentDropped(String tag, String reason, Instant at) implements Event {}
  /** The job ended; it no longer counts as a replica. */
  public record JobForgotten(String jobId, String reason, Instant at) implements Event {}
  /** An operator set the replica bounds. */
  public record ScaleSet(int min, int max, Instant at) implements Event {}

  public record TrackedJob(String jobId, String tag, Instant submittedAt) implements CborSerializable {}

  /** {@code minOverride}/{@code maxOverride} are null until an operator sets them. */
  public record State(Instant createdAt, Map<String, Instant> intents, Map<String, TrackedJob> jobs, Integer minOverride,
                      Integer maxOverride) implements CborSerializable {
    public State {
      intents = Map.copyOf(intents);
      jobs = Map.copyOf(jobs);
    }

    State withIntent(String tag, Instant at) {
      return new State(createdAt, copy(intents, m -> m.put(tag, at)), jobs, minOverride, maxOverride);
    }

    State withoutIntent(String tag) { return new State(createdAt, copy(intents, m -> m.remove(tag)), jobs, minOverride, maxOverride); }

    State withJob(TrackedJob job) {
      return new State(createdAt, intents, copy(jobs, m -> m.put(job.jobId(), job)), minOverride, maxOverride).withoutIntent(job.tag());
    }

    State withoutJob(String jobId) { return new State(createdAt, intents, copy(jobs, m -> m.remove(jobId)), minOverride, maxOverride); }

    private static <V> Map<String, V> copy(Map<String, V> m, Consumer<Map<String, V>> change) {
      Map<String, V> c = new HashMap<>(m);
      change.accept(c);
      return c;
    }
  }

  // ---------------------------------------------------------------- behaviour

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final ServiceSettings settings;
  private final CoreSettings core;
  private final Clock clock;
  private final JobChildren children;
  private final Outbox outbox;
  private final ListingReconciler reconciler;
  private final PollPace pollPace;
  private final Replicas replicas = new Replicas();
  private final LeaseBroker<ActorRef<LeaseReply>> broker;
  private final LeaseDesk leases;
  private final StartHealth health;
  private final ScaleTracker scaling;
  private final StatusView statusView;
  private final RetryEstimate retryAfter;
  private final ServiceMeters meters;
  private final Set<String> orphansCancelled = new HashSet<>();
  private Set<String> orphansSeen = Set.of();     // candidates of the previous poll: an orphan must be seen twice
  private boolean polledSinceStart;

  public static Behavior<Command> create(ServiceSettings settings, CoreSettings core, ClusterGateway gateway, Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ServiceActor(ctx, timers, settings, core, gateway, clock)));
  }

  public static PersistenceId persistenceId(String serviceId) { return PersistenceId.of(TYPE_KEY.name(), serviceId); }

  private ServiceActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, ServiceSettings settings,
                       CoreSettings core, ClusterGateway gateway, Clock clock) {
    super(persistenceId(settings.id()), SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.core = core;
    this.clock = clock;
    this.children = new JobChildren(ctx, settings, core, gateway, clock,
        ctx.messageAdapter(ReplicaView.class, ReplicaChanged::new), ChildStopped::new);
    this.outbox = new Outbox(ctx, gateway, settings.id(), clock, children, replicas);
    this.reconciler = new ListingReconciler(settings, core);
    this.pollPace = new PollPace(core.clusters().get(settings.cluster()).pollInterval());
    this.meters = new ServiceMeters(SluiceMetrics.get(ctx.getSystem()), settings.id());
    this.broker = new LeaseBroker<>(settings, ActorRef::tell, Departures::nodeOf, meters);
    Departures.subscribe(ctx, NodeLeft::new);
    this.health = new StartHealth(new Backoff(core.submitRetryMin(), core.submitRetryMax()), core.recovery().degradedAfter());
    this.scaling = new ScaleTracker(settings);
    this.leases = new LeaseDesk(broker, timers, settings, replicas, health, clock, ctx.getLog());
    this.statusView = new StatusView(settings, replicas, broker, health, scaling);
    this.retryAfter = new RetryEstimate(settings, core.recovery().assumedStartup(), clock, replicas, broker, health, scaling);
  }

  @Override public State emptyState() { return new State(null, Map.of(), Map.of(), null, null); }

  /** Bounded journal: the events the older of the two kept snapshots covers are deleted (none is tagged). */
  @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(100, 2).withDeleteEventsOnSnapshot(); }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Wake.class, (s, c) -> s.createdAt() != null ? Effect().noReply()
            : Effect().persist(new Created(clock.instant())).thenNoReply())
        .onCommand(Acquire.class, this::onAcquire)
        .onCommand(Release.class, this::onRelease)
        .onCommand(ReplicaAnswered.class, (s, c) -> {
          children.tell(c.jobId(), SlurmJobActor.Answered.INSTANCE);
          return Effect().noReply();
        })
        .onCommand(NodeLeft.class, (s, c) -> leases.nodeLeft(c.node()) ? evaluate(s) : Effect().noReply())
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), status(s)))
        .onCommand(SetScale.class, this::onSetScale)
        .onCommand(DrainReplica.class, this::onDrainReplica)
        .onCommand(ReplicaChanged.class, this::onReplicaChanged)
        .onCommand(Tick.class, (s, t) -> {
          if (t == Tick.POLL) return runtimeOnly(outbox::listJobs);
          meters.refresh(status(s));       // every second and after each replica change, not per lease (hot path)
          return evaluate(s);
        })
        .onCommand(PollSoon.class, (s, p) -> runtimeOnly(() -> {
          outbox.listJobs(pollPace.maxAge());
          pollSoon(p.step() + 1);
        }))
        .onCommand(Polled.class, this::onPolled)
        .onCommand(PollFailed.class, (s, c) -> runtimeOnly(() -> health.listingFailed(c.reason())))
        .onCommand(SubmitSucceeded.class, this::onSubmitSucceeded)
        .onCommand(SubmitFailed.class, this::onSubmitFailed)
        .onCommand(CancelFailed.class, (s, c) -> runtimeOnly(() -> outbox.cancelFailed(c.jobId(), c.reason())))
        .onCommand(LogTailFetched.class, (s, c) -> runtimeOnly(() -> health.logTailFetched(c.lines())))
        .onCommand(WaitExpired.class, (s, c) -> runtimeOnly(() -> broker.expire(c.leaseId(), () -> retryAfter.seconds(s))))
        .onCommand(ChildStopped.class, (s, c) -> runtimeOnly(() -> children.stopped(c.jobId(), s.jobs().get(c.jobId()))))
        .build();
  }

  /** Schedules the {@code step}-th extra listing after a submission, if the pace has one; a later submission restarts it. */
  private void pollSoon(int step) {
    Duration gap = pollPace.gapBefore(step);
    if (gap != null) timers.startSingleTimer(TimerKey.POLL_SOON, new PollSoon(step), gap);
  }

  private ReplyEffect<Event, State> runtimeOnly(Runnable change) {
    change.run();
    return Effect().noReply();
  }

  /**
   * Ends a step: its I/O (cancel, drain, fetch a log) goes out only once its events are stored, so a failed write (which
   * restarts this actor to decide again) leaves nothing done for a decision that was not recorded.
   */
  private EffectBuilder<Event, State> commit(List<Event> events) {
    Runnable io = outbox.takeQueued();
    return (events.isEmpty() ? Effect().none() : Effect().persist(events)).thenRun(st -> io.run());
  }

  private ReplyEffect<Event, State> done() { return commit(List.of()).thenNoReply(); }

  private ReplyEffect<Event, State> onAcquire(State s, Acquire a) {
    // Queued: a demand step, decided now rather than at the next tick.
    return leases.acquire(a, () -> retryAfter.seconds(s)) ? evaluate(s) : Effect().noReply();
  }

  private ReplyEffect<Event, State> onRelease(State s, Release r) {
    var released = leases.release(r.leaseId()).orElse(null);
    if (released == null) return Effect().noReply();
    if (r.replicaFailed()) children.tell(released.jobId(), SlurmJobActor.CheckNow.INSTANCE);
    return released.replicaIdle() && replicas.inPhase(released.jobId(), ReplicaPhase.DRAINING) ? evaluate(s) : Effect().noReply();
  }

  private void serveWaiters() { leases.serveWaiters(); }

  private ReplyEffect<Event, State> onReplicaChanged(State s, ReplicaChanged c) {
    ReplicaView v = c.view();
    if (!s.jobs().containsKey(v.jobId())) return Effect().noReply();
    meters.reported(v);
    if (v.phase() == ReplicaPhase.ENDED) {
      boolean cancelled = replicas.ended(v.jobId());
      if (v.readyAt() == null && !cancelled) startFailed(v.jobId(), "job " + v.jobId() + " ended before it was ready: " + v.reason());
      return commit(List.of(new JobForgotten(v.jobId(), v.reason(), clock.instant())))
          .thenRun(st -> {
            ctx.getLog().info("replica {} of {} ended: {}", v.jobId(), settings.id(), v.reason());
            meters.ended(v, cancelled);
            replicas.forget(v.jobId());
            broker.forget(v.jobId());
            ctx.getSelf().tell(Tick.EVALUATE);
          })
          .thenNoReply();
    }
    if (replicas.update(v)) {
      int failed = health.startSucceeded(v);
      if (failed > 0) ctx.getLog().info("{} recovered: job {} is ready after {} failed starts", settings.id(), v.jobId(), failed);
    }
    if (v.routable()) serveWaiters();
    return evaluate(s);
  }

  /** A replica failed to start: back off before the next submission, and fetch the job's log to show why. */
  private void startFailed(String jobId, String reason) {
    meters.startFailed(jobId);
    Duration wait = health.startFailed(reason, clock.instant());
    if (health.degraded()) ctx.getLog().error("{} is degraded after {} failed starts; last: {}", settings.id(), health.startFailures(), reason);
    else ctx.getLog().warn("{}: {}; next submission in {} s", settings.id(), reason, wait.toSeconds());
    outbox.fetchLogTail(jobId, LOG_TAIL_LINES);
  }

  private ReplyEffect<Event, State> onSetScale(State s, SetScale c) {
    if (c.min() < 0 || c.max() < 1 || c.max() < c.min()) {
      return Effect().reply(c.replyTo(), new AdminReply.Refused(AdminRefusal.INVALID_SCALE, "need 0 <= min <= max and max >= 1"));
    }
    return Effect().persist(new ScaleSet(c.min(), c.max(), clock.instant()))
        .thenRun(st -> {
          ctx.getLog().info("{}: an operator set min {} max {}", settings.id(), c.min(), c.max());
          scaling.bounds(st);
          ctx.getSelf().tell(Tick.EVALUATE);
        })
        .thenReply(c.replyTo(), st -> new AdminReply.Done(status(st)));
  }

  private ReplyEffect<Event, State> onDrainReplica(State s, DrainReplica c) {
    if (!s.jobs().containsKey(c.jobId()) || !children.has(c.jobId()) || replicas.inPhase(c.jobId(), ReplicaPhase.ENDED)) {
      return Effect().reply(c.replyTo(), new AdminReply.Refused(AdminRefusal.REPLICA_NOT_FOUND,
          "No live replica " + c.jobId() + " in service " + settings.id()));
    }
    outbox.drain(c.jobId(), "drained by an operator");
    ctx.getSelf().tell(Tick.EVALUATE);                      // submits a replacement if the target needs one
    return commit(List.of()).thenReply(c.replyTo(), st -> new AdminReply.Done(status(st)));
  }

  private ReplyEffect<Event, State> onPolled(State s, Polled p) {
    polledSinceStart = true;
    health.listed();
    var r = reconciler.reconcile(s, children.jobIds(), children.adoptedAt(), replicas.submittingTags(), p.jobs(), p.asked(),
        orphansSeen, clock.instant());
    orphansSeen = r.orphanCandidates();
    r.observations().forEach(o -> children.tell(o.jobId(), new SlurmJobActor.Observe(o.seen())));
    for (JobSnapshot j : r.orphansToCancel()) {
      if (!orphansCancelled.add(j.jobId())) continue;
      ctx.getLog().warn("cancelling orphaned job {} of {} (tag {}): no service knows it", j.jobId(), settings.id(), j.tag());
      outbox.cancel(j.jobId(), "orphaned");
    }
    if (r.events().isEmpty()) return evaluate(s);
    return commit(r.events())
        .thenRun(st -> {
          for (JobSnapshot j : r.tracked()) {
            ctx.getLog().info("adopted job {} of {} found by its tag {}", j.jobId(), settings.id(), j.tag());
            if (s.intents().containsKey(j.tag())) meters.submitted();      // submitted by an earlier incarnation
            children.adopt(st.jobs().get(j.jobId()), j);
          }
          ctx.getSelf().tell(Tick.EVALUATE);
        })
        .thenNoReply();
  }

  /**
   * The control loop: target from demand, then readiness, health and drain deadlines, then the plan (submit, drain,
   * cancel). Cheap enough to run on every change; waits for the first poll so recovered jobs count before any submit.
   */
  private ReplyEffect<Event, State> evaluate(State s) {
    if (!polledSinceStart || !scaling.started()) return done();
    Instant now = clock.instant();
    int demand = broker.demand();
    scaling.next(demand, now, health.startup()).ifPresent(change -> ctx.getLog().info("{}: target {} -> {} replicas (demand {})",
        settings.id(), change.lastFrom(), change.lastTo(), demand));
    var life = settings.lifecycle();
    replicas.overdue(s.jobs().values(), broker::inFlight, life, now).forEach((job, verdict) -> {
      outbox.cancel(job, verdict.reason());
      if (verdict.startFailed()) startFailed(job, verdict.reason());
    });
    var plan = replicas.plan(s.jobs().values(), s.intents().size(), broker::inFlight, scaling.targetOr(0), life.renewBefore(), now);
    plan.drain().forEach(job -> outbox.drain(job, replicas.drainReason(job, demand, life.renewBefore(), now)));
    plan.cancel().forEach(job -> outbox.cancel(job, "scale down (not ready yet)"));
    if (plan.toSubmit() == 0) return done();
    if (now.isBefore(health.submitNotBefore())) {
      timers.startSingleTimer(TimerKey.BACKOFF, Tick.EVALUATE, Duration.between(now, health.submitNotBefore()));
      return done();
    }
    List<String> tags = new ArrayList<>();
    for (int i = 0; i < plan.toSubmit(); i++) tags.add(SubmissionTag.next(core.deployment()));
    return commit(tags.stream().<Event>map(tag -> new SubmitIntended(tag, now)).toList())
        .thenRun(st -> tags.forEach(outbox::submit))
        .thenNoReply();
  }

  private ReplyEffect<Event, State> onSubmitSucceeded(State s, SubmitSucceeded c) {
    replicas.submitted(c.tag());
    health.submitSucceeded();
    return Effect().persist(new JobTracked(c.tag(), c.job().jobId(), clock.instant()))
        .thenRun(st -> {
          ctx.getLog().info("job {} submitted for {}", c.job().jobId(), settings.id());
          pollSoon(0);                                     // a job that starts at once is seen soon (PollPace)
          meters.submitted();
          children.adopt(st.jobs().get(c.job().jobId()), c.job());
        })
        .thenNoReply();
  }

  private ReplyEffect<Event, State> onSubmitFailed(State s, SubmitFailed c) {
    replicas.submitted(c.tag());
    Duration delay = health.submitFailed(c.reason(), clock.instant());
    ctx.getLog().warn("submitting a job for {} failed ({}); retrying in {} s", settings.id(), c.reason(), delay.toSeconds());
    return Effect().persist(new IntentDropped(c.tag(), c.reason(), clock.instant()))
        .thenRun(st -> timers.startSingleTimer(TimerKey.BACKOFF, Tick.EVALUATE, delay))
        .thenNoReply();
  }

  private ServiceStatus status(State s) { return statusView.of(s, clock.instant()); }

  @Override public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Created.class, (s, e) -> new State(e.at(), s.intents(), s.jobs(), s.minOverride(), s.maxOverride()))
        .onEvent(SubmitIntended.class, (s, e) -> s.withIntent(e.tag(), e.at()))
        .onEvent(JobTracked.class, (s, e) -> s.withJob(new TrackedJob(e.jobId(), e.tag(), s.intents().getOrDefault(e.tag(), e.at()))))
        .onEvent(IntentDropped.class, (s, e) -> s.withoutIntent(e.tag()))
        .onEvent(JobForgotten.class, (s, e) -> s.withoutJob(e.jobId()))
        .onEvent(ScaleSet.class, (s, e) -> new State(s.createdAt(), s.intents(), s.jobs(), e.min(), e.max()))
        .build();
  }

  @Override public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> {
          if (!s.jobs().isEmpty() || !s.intents().isEmpty()) {
            ctx.getLog().info("{} recovered {} jobs and {} pending submissions", settings.id(), s.jobs().size(), s.intents().size());
          }
          scaling.start(s);
          s.jobs().values().forEach(children::spawn);
          timers.startTimerWithFixedDelay(TimerKey.POLL, Tick.POLL, core.clusters().get(settings.cluster()).pollInterval());
          timers.startTimerWithFixedDelay(TimerKey.EVALUATE, Tick.EVALUATE, EVALUATE_EVERY);
          ctx.getSelf().tell(Tick.POLL);
        })
        .onSignal(PostStop.instance(), s -> meters.close())            // stopped, or moved to another node
        .build();
  }
}
