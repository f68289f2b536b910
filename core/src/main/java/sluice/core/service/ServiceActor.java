package sluice.core.service;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.job.SlurmJobActor;
import sluice.core.policy.Autoscaler;
import sluice.core.policy.Backoff;
import sluice.core.policy.FairQueue;
import sluice.core.policy.ReplicaChooser;
import sluice.core.policy.ReplicaLoad;
import sluice.core.policy.ReplicaPlanner;
import sluice.core.policy.RetryAfter;

/**
 * One model, served by Slurm jobs: sharded by service id, event-sourced, parent of one {@link SlurmJobActor} per job.
 *
 * <p>Persisted: the jobs it owns, its submission intents and an operator's scale override. An intent (a unique tag)
 * is stored before the job is submitted, so after a crash the tag finds the job on the cluster and nothing is
 * submitted twice. Runtime only: replica views, leases and requests in flight per replica, the admission queue, the
 * autoscaler's memory and the failure counters.
 *
 * <p>Decisions come from pure policies ({@link Autoscaler}, {@link ReplicaPlanner}, {@link ReplicaChooser},
 * {@link RetryAfter}); this actor feeds them what it observes and applies what they return. It re-evaluates on every
 * change it sees (a queued request, a replica's report) and on a one-second tick, so a demand step is acted on at once.
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
   * this request, so its one retry goes elsewhere.
   */
  public record Acquire(String leaseId, String user, String avoid, ActorRef<LeaseReply> replyTo) implements Command {}

  /** The request holding this lease has ended; {@code replicaFailed} when its replica failed before answering. */
  public record Release(String leaseId, boolean replicaFailed) implements Command {}

  public record GetStatus(ActorRef<ServiceStatus> replyTo) implements Command {}

  /** An operator's replica bounds; they override the configured ones until changed again. */
  public record SetScale(int min, int max, ActorRef<AdminReply> replyTo) implements Command {}

  /** An operator drains one replica: no new requests, running ones finish (up to drain-timeout), then it is cancelled. */
  public record DrainReplica(String jobId, ActorRef<AdminReply> replyTo) implements Command {}

  /** A child's report, through a message adapter. */
  record ReplicaChanged(ReplicaView view) implements Command {}

  private enum Tick implements Command { POLL, EVALUATE }

  /** A job listing; {@code asked} is when this actor asked for it (the listing may be a little older, see onPolled). */
  private record Polled(List<JobSnapshot> jobs, Instant asked) implements Command {}

  private record PollFailed(String reason) implements Command {}

  private record SubmitSucceeded(String tag, JobSnapshot job) implements Command {}

  private record SubmitFailed(String tag, String reason) implements Command {}

  private record CancelFailed(String jobId, String reason) implements Command {}

  private record LogTailFetched(String jobId, List<String> lines) implements Command {}

  private record WaitExpired(String leaseId) implements Command {}

  private record ChildStopped(String jobId) implements Command {}

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
      Map<String, Instant> i = new HashMap<>(intents);
      i.put(tag, at);
      return new State(createdAt, i, jobs, minOverride, maxOverride);
    }

    State withoutIntent(String tag) {
      Map<String, Instant> i = new HashMap<>(intents);
      i.remove(tag);
      return new State(createdAt, i, jobs, minOverride, maxOverride);
    }

    State withJob(TrackedJob job) {
      Map<String, TrackedJob> j = new HashMap<>(jobs);
      j.put(job.jobId(), job);
      return new State(createdAt, intents, j, minOverride, maxOverride).withoutIntent(job.tag());
    }

    State withoutJob(String jobId) {
      Map<String, TrackedJob> j = new HashMap<>(jobs);
      j.remove(jobId);
      return new State(createdAt, intents, j, minOverride, maxOverride);
    }
  }

  // ---------------------------------------------------------------- behaviour

  private record Lease(String jobId, Instant grantedAt) {}

  /** A problem shown to operators as {@code last_error}; a success of the same kind clears it. */
  private record Problem(Kind kind, String text) {
    enum Kind { LISTING, SUBMISSION, START }
  }

  private static final SecureRandom RANDOM = new SecureRandom();

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final ServiceSettings settings;
  private final ServiceSettings.Lifecycle life;
  private final CoreSettings core;
  private final ClusterGateway gateway;
  private final Clock clock;
  private final Backoff backoff;
  private final ActorRef<ReplicaView> childReports;

  private final Map<String, ActorRef<SlurmJobActor.Command>> children = new HashMap<>();
  private final Map<String, ReplicaView> views = new HashMap<>();
  private final Map<String, Integer> inFlight = new HashMap<>();
  private final Map<String, Lease> leases = new HashMap<>();
  private final FairQueue<ActorRef<LeaseReply>> queue = new FairQueue<>();
  private final Set<String> submitting = new HashSet<>();
  private final Map<String, String> cancelling = new HashMap<>();      // job id -> why
  private final Set<String> drainAsked = new HashSet<>();
  private final Set<String> startMeasured = new HashSet<>();
  private final Set<String> orphansCancelled = new HashSet<>();
  private Set<String> orphansSeen = Set.of();     // candidates of the previous poll: an orphan must be seen twice
  private Autoscaler autoscaler;
  private Autoscaler.Scale scale;
  private Instant demandAbove;             // when demand first needed more replicas than the target
  private ServiceStatus.Scaling lastScaling;
  private boolean polledSinceStart;
  private int submitFailures;
  private int startFailures;
  private Instant submitNotBefore = Instant.EPOCH;
  private Problem lastError;               // the last problem shown to operators, until a success of its kind
  private List<String> logTail = List.of();
  private Duration startup;                // measured submission-to-ready time (moving average), null until measured
  private Duration requestTime = Duration.ofSeconds(1);

  public static Behavior<Command> create(ServiceSettings settings, CoreSettings core, ClusterGateway gateway, Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new ServiceActor(ctx, timers, settings, core, gateway, clock)));
  }

  public static PersistenceId persistenceId(String serviceId) { return PersistenceId.of(TYPE_KEY.name(), serviceId); }

  private ServiceActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, ServiceSettings settings,
                       CoreSettings core, ClusterGateway gateway, Clock clock) {
    super(persistenceId(settings.id()),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.settings = settings;
    this.life = settings.lifecycle();
    this.core = core;
    this.gateway = gateway;
    this.clock = clock;
    this.backoff = new Backoff(core.submitRetryMin(), core.submitRetryMax());
    this.childReports = ctx.messageAdapter(ReplicaView.class, ReplicaChanged::new);
  }

  @Override public State emptyState() { return new State(null, Map.of(), Map.of(), null, null); }

  @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(100, 2); }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Wake.class, this::onWake)
        .onCommand(Acquire.class, this::onAcquire)
        .onCommand(Release.class, this::onRelease)
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), status(s)))
        .onCommand(SetScale.class, this::onSetScale)
        .onCommand(DrainReplica.class, this::onDrainReplica)
        .onCommand(ReplicaChanged.class, this::onReplicaChanged)
        .onCommand(Tick.class, this::onTick)
        .onCommand(Polled.class, this::onPolled)
        .onCommand(PollFailed.class, (s, c) -> {
          lastError = new Problem(Problem.Kind.LISTING, "cannot list jobs: " + c.reason());
          return Effect().noReply();
        })
        .onCommand(SubmitSucceeded.class, this::onSubmitSucceeded)
        .onCommand(SubmitFailed.class, this::onSubmitFailed)
        .onCommand(CancelFailed.class, (s, c) -> {
          ctx.getLog().warn("cancelling job {} of {} failed ({}); retrying", c.jobId(), settings.id(), c.reason());
          cancelling.remove(c.jobId());
          return Effect().noReply();
        })
        .onCommand(LogTailFetched.class, (s, c) -> {
          logTail = c.lines();
          return Effect().noReply();
        })
        .onCommand(WaitExpired.class, (s, c) -> onWaitExpired(s, c))
        .onCommand(ChildStopped.class, this::onChildStopped)
        .build();
  }

  private ReplyEffect<Event, State> onWake(State s, Wake w) {
    if (s.createdAt() != null) return Effect().noReply();
    return Effect().persist(new Created(clock.instant())).thenNoReply();
  }

  // ---------------------------------------------------------------- requests

  private ReplyEffect<Event, State> onAcquire(State s, Acquire a) {
    Optional<String> job = choose(a.avoid());
    if (job.isPresent()) {
      grant(a.leaseId(), a.replyTo(), job.get());
      return Effect().noReply();
    }
    Instant now = clock.instant();
    if (startFailures >= core.recovery().degradedAfter() && !replicaStarting() && submitNotBefore.isAfter(now.plus(settings.maxQueueWait()))) {
      a.replyTo().tell(new LeaseReply.Unavailable(LeaseRefusal.DEGRADED, "model " + settings.id() + " is unavailable: "
          + (lastError == null ? startFailures + " failed starts" : lastError.text()), retryAfterSeconds(s)));
      return Effect().noReply();
    }
    if (queue.size() >= settings.maxQueue()) {
      a.replyTo().tell(new LeaseReply.Unavailable(LeaseRefusal.QUEUE_FULL, "the queue of " + settings.id() + " is full (" + settings.maxQueue()
          + " requests waiting)", retryAfterSeconds(s)));
      return Effect().noReply();
    }
    // Once waiting, a retry may take any routable replica: the one that failed it was health-checked at once and is
    // routable only if it passed (else a lone replica that recovered would never get the request).
    queue.add(a.leaseId(), a.user(), a.replyTo());
    timers.startSingleTimer(a.leaseId(), new WaitExpired(a.leaseId()), settings.maxQueueWait());
    return evaluate(s);                            // a demand step: decide now, not at the next tick
  }

  private ReplyEffect<Event, State> onRelease(State s, Release r) {
    Lease lease = leases.remove(r.leaseId());
    if (lease == null) return Effect().noReply();
    inFlight.computeIfPresent(lease.jobId(), (k, n) -> n > 1 ? n - 1 : null);
    Duration held = Duration.between(lease.grantedAt(), clock.instant());
    requestTime = requestTime.multipliedBy(7).plus(held.multipliedBy(3)).dividedBy(10);
    ActorRef<SlurmJobActor.Command> child = children.get(lease.jobId());
    if (r.replicaFailed() && child != null) child.tell(SlurmJobActor.CheckNow.INSTANCE);
    serveWaiters();
    ReplicaView v = views.get(lease.jobId());
    if (v != null && v.phase() == ReplicaPhase.DRAINING && !inFlight.containsKey(lease.jobId())) return evaluate(s);
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onWaitExpired(State s, WaitExpired e) {
    queue.remove(e.leaseId()).ifPresent(w -> w.tell(new LeaseReply.Unavailable(LeaseRefusal.QUEUE_TIMEOUT, "no replica of " + settings.id()
        + " could take the request within " + settings.maxQueueWait().toSeconds() + " s", retryAfterSeconds(s))));
    return Effect().noReply();
  }

  private Optional<String> choose(String avoid) {
    List<ReplicaLoad> loads = views.values().stream()
        .sorted(Comparator.comparing(ReplicaView::submittedAt, Comparator.nullsLast(Comparator.naturalOrder())))
        .map(v -> new ReplicaLoad(v.jobId(), v.routable() && !cancelling.containsKey(v.jobId()) && !drainAsked.contains(v.jobId()),
            inFlight.getOrDefault(v.jobId(), 0)))
        .toList();
    return ReplicaChooser.pick(loads, settings.maxInflightPerReplica(), avoid);
  }

  private void grant(String leaseId, ActorRef<LeaseReply> replyTo, String jobId) {
    inFlight.merge(jobId, 1, Integer::sum);
    leases.put(leaseId, new Lease(jobId, clock.instant()));
    replyTo.tell(new LeaseReply.Granted(settings.id(), settings.cluster(), jobId, leaseId));
  }

  /** Grants waiting requests while a replica has room, fairly between users. */
  private void serveWaiters() {
    while (!queue.isEmpty()) {
      Optional<String> job = choose(null);
      if (job.isEmpty()) return;
      Map.Entry<String, ActorRef<LeaseReply>> next = queue.poll().orElseThrow();
      timers.cancel(next.getKey());
      grant(next.getKey(), next.getValue(), job.get());
    }
  }

  private int demand() { return leases.size() + queue.size(); }

  private boolean replicaStarting() {
    return !submitting.isEmpty() || views.values().stream().anyMatch(v -> isStarting(v) && !cancelling.containsKey(v.jobId()));
  }

  private static boolean isStarting(ReplicaView v) {
    return v.phase() == ReplicaPhase.PENDING || v.phase() == ReplicaPhase.RUNNING;
  }

  /** Estimated from the replicas on their way and the measured start-up and request times. */
  private long retryAfterSeconds(State s) {
    Instant now = clock.instant();
    Duration startingFor = null;
    for (ReplicaView v : views.values()) {
      if (!isStarting(v) || cancelling.containsKey(v.jobId()) || v.submittedAt() == null) continue;
      Duration d = Duration.between(v.submittedAt(), now);
      if (startingFor == null || d.compareTo(startingFor) > 0) startingFor = d;
    }
    for (Instant at : s.intents().values()) {
      Duration d = Duration.between(at, now);
      if (startingFor == null || d.compareTo(startingFor) > 0) startingFor = d;
    }
    long routable = views.values().stream().filter(ReplicaView::routable).count();
    Duration backoffLeft = submitNotBefore.isAfter(now) ? Duration.between(now, submitNotBefore) : Duration.ZERO;
    return RetryAfter.seconds(startingFor, liveReplicas() < maxReplicas(s), backoffLeft,
        startup != null ? startup : core.recovery().assumedStartup(), queue.size(),
        (int) routable * settings.maxInflightPerReplica(), requestTime);
  }

  // ---------------------------------------------------------------- replicas

  private ReplyEffect<Event, State> onReplicaChanged(State s, ReplicaChanged c) {
    ReplicaView v = c.view();
    if (!s.jobs().containsKey(v.jobId())) return Effect().noReply();
    if (v.phase() == ReplicaPhase.ENDED) {
      String cancelledBecause = cancelling.remove(v.jobId());
      drainAsked.remove(v.jobId());
      if (v.readyAt() == null && cancelledBecause == null) startFailed(v.jobId(), "job " + v.jobId() + " ended before it was ready: " + v.reason());
      return Effect().persist(new JobForgotten(v.jobId(), v.reason(), clock.instant()))
          .thenRun(st -> {
            ctx.getLog().info("replica {} of {} ended: {}", v.jobId(), settings.id(), v.reason());
            views.remove(v.jobId());
            inFlight.remove(v.jobId());
            ctx.getSelf().tell(Tick.EVALUATE);
          })
          .thenNoReply();
    }
    ReplicaView before = views.put(v.jobId(), v);
    if (v.phase() == ReplicaPhase.READY && v.readyAt() != null && startMeasured.add(v.jobId())) {
      if (before == null || before.phase() != ReplicaPhase.READY) startSucceeded(v);
    }
    if (v.phase() == ReplicaPhase.DRAINING) drainAsked.remove(v.jobId());
    if (v.routable()) serveWaiters();
    return evaluate(s);
  }

  private void startSucceeded(ReplicaView v) {
    if (v.submittedAt() != null && v.readyAt().isAfter(v.submittedAt())) {
      Duration took = Duration.between(v.submittedAt(), v.readyAt());
      startup = startup == null ? took : startup.plus(took).dividedBy(2);
    }
    if (startFailures > 0) ctx.getLog().info("{} recovered: job {} is ready after {} failed starts", settings.id(), v.jobId(), startFailures);
    if (startFailures > 0) {
      lastError = null;
      logTail = List.of();
    }
    startFailures = 0;
    submitNotBefore = Instant.EPOCH;
  }

  /** A replica failed to start: back off before the next submission, and fetch the job's log to show why. */
  private void startFailed(String jobId, String reason) {
    startFailures++;
    Duration wait = backoff.after(startFailures);
    submitNotBefore = clock.instant().plus(wait);
    lastError = new Problem(Problem.Kind.START, reason);
    boolean degraded = startFailures >= core.recovery().degradedAfter();
    if (degraded) ctx.getLog().error("{} is degraded after {} failed starts; last: {}", settings.id(), startFailures, reason);
    else ctx.getLog().warn("{}: {}; next submission in {} s", settings.id(), reason, wait.toSeconds());
    ctx.pipeToSelf(gateway.logTail(settings.id(), jobId, LOG_TAIL_LINES),
        (lines, err) -> new LogTailFetched(jobId, err == null ? lines : List.of("(no log: " + rootMessage(err) + ")")));
  }

  private ReplyEffect<Event, State> onChildStopped(State s, ChildStopped c) {
    children.remove(c.jobId());
    TrackedJob job = s.jobs().get(c.jobId());
    if (job != null) spawn(job);            // stopped without ending (e.g. its journal failed): recover it again
    return Effect().noReply();
  }

  private void spawn(TrackedJob job) {
    if (children.containsKey(job.jobId())) return;
    var spec = new SlurmJobActor.Spec(settings.id(), job.jobId(), job.tag(), job.submittedAt(), core.probeInterval(),
        life.healthInterval());
    ActorRef<SlurmJobActor.Command> child = ctx.spawn(SlurmJobActor.create(spec, gateway, childReports, clock), "job-" + job.jobId());
    ctx.watchWith(child, new ChildStopped(job.jobId()));
    children.put(job.jobId(), child);
  }

  // ---------------------------------------------------------------- operator commands

  private ReplyEffect<Event, State> onSetScale(State s, SetScale c) {
    if (c.min() < 0 || c.max() < 1 || c.max() < c.min()) {
      return Effect().reply(c.replyTo(), new AdminReply.Refused(AdminRefusal.INVALID_SCALE, "need 0 <= min <= max and max >= 1"));
    }
    return Effect().persist(new ScaleSet(c.min(), c.max(), clock.instant()))
        .thenRun(st -> {
          ctx.getLog().info("{}: an operator set min {} max {}", settings.id(), c.min(), c.max());
          autoscaler = autoscaler(st);
          ctx.getSelf().tell(Tick.EVALUATE);
        })
        .thenReply(c.replyTo(), st -> new AdminReply.Done(status(st)));
  }

  private ReplyEffect<Event, State> onDrainReplica(State s, DrainReplica c) {
    ActorRef<SlurmJobActor.Command> child = children.get(c.jobId());
    ReplicaView v = views.get(c.jobId());
    if (!s.jobs().containsKey(c.jobId()) || child == null || (v != null && v.phase() == ReplicaPhase.ENDED)) {
      return Effect().reply(c.replyTo(), new AdminReply.Refused(AdminRefusal.REPLICA_NOT_FOUND,
          "No live replica " + c.jobId() + " in service " + settings.id()));
    }
    drain(c.jobId(), "drained by an operator");
    ctx.getSelf().tell(Tick.EVALUATE);                      // submits a replacement if the target needs one
    return Effect().reply(c.replyTo(), new AdminReply.Done(status(s)));
  }

  // ---------------------------------------------------------------- polling

  private ReplyEffect<Event, State> onTick(State s, Tick t) {
    if (t == Tick.POLL) {
      Instant asked = clock.instant();
      ctx.pipeToSelf(gateway.jobs(), (jobs, err) -> err == null ? new Polled(jobs, asked) : new PollFailed(rootMessage(err)));
      return Effect().noReply();
    }
    return evaluate(s);
  }

  private ReplyEffect<Event, State> onPolled(State s, Polled p) {
    polledSinceStart = true;
    if (lastError != null && lastError.kind() == Problem.Kind.LISTING) lastError = null;
    Map<String, JobSnapshot> byId = new HashMap<>();
    Map<String, JobSnapshot> byTag = new HashMap<>();
    String ours = core.deployment() + ".";
    for (JobSnapshot j : p.jobs()) {
      if (!settings.id().equals(j.service()) || j.tag() == null || !j.tag().startsWith(ours)) continue;
      byId.put(j.jobId(), j);
      byTag.put(j.tag(), j);
    }
    // A cluster's listing is shared by its services for up to one poll interval, so a job submitted since may be
    // missing from it without having vanished: only a listing taken after the submission may declare it gone.
    Instant listedNoEarlierThan = p.asked().minus(core.clusters().get(settings.cluster()).pollInterval());
    s.jobs().values().forEach(job -> {
      ActorRef<SlurmJobActor.Command> child = children.get(job.jobId());
      JobSnapshot seen = byId.get(job.jobId());
      if (child != null && (seen != null || job.submittedAt().isBefore(listedNoEarlierThan))) {
        child.tell(new SlurmJobActor.Observe(seen));
      }
    });
    List<Event> resolved = new ArrayList<>();
    // Intents left by an earlier incarnation: the submission either reached the cluster (adopt) or it did not.
    for (String tag : s.intents().keySet()) {
      if (submitting.contains(tag)) continue;
      JobSnapshot found = byTag.get(tag);
      if (found != null) resolved.add(new JobTracked(tag, found.jobId(), clock.instant()));
      else resolved.add(new IntentDropped(tag, "not on the cluster after a restart", clock.instant()));
    }
    // Orphans: this deployment's live jobs of this service that nobody tracks (e.g. the journal was lost). Seen in two
    // listings in a row, so a listing older than a job's end (listings are shared and may cross) adopts nothing.
    Set<String> candidates = new HashSet<>();
    for (JobSnapshot j : byId.values()) {
      if (j.state().isFinal() || s.jobs().containsKey(j.jobId()) || s.intents().containsKey(j.tag())) continue;
      candidates.add(j.jobId());
      if (!orphansSeen.contains(j.jobId())) continue;
      if (core.recovery().orphans() == CoreSettings.Orphans.ADOPT) {
        resolved.add(new JobTracked(j.tag(), j.jobId(), clock.instant()));
      } else if (orphansCancelled.add(j.jobId())) {
        ctx.getLog().warn("cancelling orphaned job {} of {} (tag {}): no service knows it", j.jobId(), settings.id(), j.tag());
        cancel(j.jobId(), "orphaned");
      }
    }
    orphansSeen = candidates;
    if (resolved.isEmpty()) return evaluate(s);
    return Effect().persist(resolved)
        .thenRun(st -> {
          for (Event e : resolved) {
            if (e instanceof JobTracked t) {
              ctx.getLog().info("adopted job {} of {} found by its tag {}", t.jobId(), settings.id(), t.tag());
              spawn(st.jobs().get(t.jobId()));
              children.get(t.jobId()).tell(new SlurmJobActor.Observe(byId.get(t.jobId())));
            }
          }
          ctx.getSelf().tell(Tick.EVALUATE);
        })
        .thenNoReply();
  }

  // ---------------------------------------------------------------- decisions

  private int minReplicas(State s) { return s.minOverride() != null ? s.minOverride() : settings.minReplicas(); }

  private int maxReplicas(State s) { return s.maxOverride() != null ? s.maxOverride() : settings.maxReplicas(); }

  private Autoscaler autoscaler(State s) {
    return new Autoscaler(minReplicas(s), maxReplicas(s), settings.maxInflightPerReplica(), life.scaleDownDelay(), life.idleToZero());
  }

  private long liveReplicas() {
    return views.values().stream().filter(v -> v.phase() != ReplicaPhase.DRAINING && !cancelling.containsKey(v.jobId())).count()
        + submitting.size();
  }

  /**
   * The control loop: new target from demand, then health, readiness and drain deadlines, then the plan (submit,
   * drain, cancel). Cheap enough to run on every change; waits for the first poll after a start so recovered jobs
   * are counted before anything is submitted.
   */
  private ReplyEffect<Event, State> evaluate(State s) {
    if (!polledSinceStart || autoscaler == null) return Effect().noReply();
    Instant now = clock.instant();
    int demand = demand();
    int before = scale.target();
    if (autoscaler.need(demand) > before && demandAbove == null) demandAbove = now;
    scale = autoscaler.next(scale, demand, now);
    if (scale.target() != before) {
      lastScaling = new ServiceStatus.Scaling(demand, before, scale.target(), scale.target() > before ? demandAbove : null, now,
          startup);
      ctx.getLog().info("{}: target {} -> {} replicas (demand {})", settings.id(), before, scale.target(), demand);
    }
    if (autoscaler.need(demand) <= scale.target()) demandAbove = null;

    List<ReplicaPlanner.Replica> replicas = new ArrayList<>();
    boolean recovering = false;
    for (TrackedJob job : s.jobs().values()) {
      ReplicaView v = views.get(job.jobId());
      if (v == null) {                                  // recovering: count it as starting, never submit twice
        replicas.add(new ReplicaPlanner.Replica(job.jobId(), ReplicaPlanner.Stage.STARTING, 0, null, null));
        recovering = true;
        continue;
      }
      if (v.phase() == ReplicaPhase.ENDED) continue;
      checkReplica(v, now);
      boolean leaving = v.phase() == ReplicaPhase.DRAINING || cancelling.containsKey(v.jobId()) || drainAsked.contains(v.jobId());
      ReplicaPlanner.Stage stage = leaving ? ReplicaPlanner.Stage.LEAVING
          : v.phase() == ReplicaPhase.READY ? ReplicaPlanner.Stage.READY : ReplicaPlanner.Stage.STARTING;
      replicas.add(new ReplicaPlanner.Replica(v.jobId(), stage, inFlight.getOrDefault(v.jobId(), 0), v.startedAt(), v.endsAt()));
    }
    ReplicaPlanner.Plan plan = ReplicaPlanner.plan(scale.target(), s.intents().size(), replicas, life.renewBefore(), now);
    // Until every job has reported, which to drain or cancel is not known: only submissions (counted safely) go ahead.
    if (recovering) plan = new ReplicaPlanner.Plan(plan.toSubmit(), List.of(), List.of());
    for (String job : plan.drain()) {
      ReplicaView v = views.get(job);
      boolean renewal = v != null && ReplicaPlanner.renewalDue(v.startedAt(), v.endsAt(), life.renewBefore(), now);
      drain(job, renewal ? "renewed: a replacement is ready before the time limit" : "scale down: demand " + demand);
    }
    for (String job : plan.cancel()) cancel(job, "scale down (not ready yet)");
    if (plan.toSubmit() == 0) return Effect().noReply();
    if (now.isBefore(submitNotBefore)) {
      timers.startSingleTimer(Tick.EVALUATE, Tick.EVALUATE, Duration.between(now, submitNotBefore));
      return Effect().noReply();
    }
    List<Event> intents = new ArrayList<>();
    for (int i = 0; i < plan.toSubmit(); i++) intents.add(new SubmitIntended(newTag(), now));
    return Effect().persist(intents)
        .thenRun(st -> intents.forEach(e -> submit(((SubmitIntended) e).tag())))
        .thenNoReply();
  }

  /** Readiness deadline, failed health checks and drain deadlines of one live replica. */
  private void checkReplica(ReplicaView v, Instant now) {
    if (cancelling.containsKey(v.jobId())) return;
    if (v.phase() == ReplicaPhase.RUNNING && v.startedAt() != null && !now.isBefore(v.startedAt().plus(life.readyTimeout()))) {
      String why = "job " + v.jobId() + " was not ready within ready-timeout (" + life.readyTimeout().toSeconds() + " s)"
          + (v.reason() == null ? "" : "; last probe: " + v.reason());
      cancel(v.jobId(), why);
      startFailed(v.jobId(), why);
    } else if (v.phase() == ReplicaPhase.READY && v.failedChecks() >= life.healthFailures()) {
      cancel(v.jobId(), "failed " + v.failedChecks() + " health checks in a row: " + v.reason());
    } else if (v.phase() == ReplicaPhase.DRAINING) {
      int running = inFlight.getOrDefault(v.jobId(), 0);
      if (running == 0) cancel(v.jobId(), "drained");
      else if (v.drainingAt() != null && !now.isBefore(v.drainingAt().plus(life.drainTimeout()))) {
        cancel(v.jobId(), "drain-timeout passed with " + running + " requests still running");
      }
    }
  }

  private void drain(String jobId, String reason) {
    ActorRef<SlurmJobActor.Command> child = children.get(jobId);
    if (child == null || !drainAsked.add(jobId)) return;
    child.tell(new SlurmJobActor.Drain(reason));
  }

  private void cancel(String jobId, String reason) {
    if (cancelling.putIfAbsent(jobId, reason) != null) return;
    ctx.getLog().info("cancelling job {} of {}: {}", jobId, settings.id(), reason);
    ctx.pipeToSelf(gateway.cancel(jobId), (done, err) -> err == null ? Tick.POLL : new CancelFailed(jobId, rootMessage(err)));
  }

  private void submit(String tag) {
    submitting.add(tag);
    ctx.getLog().info("submitting a job for {} (tag {})", settings.id(), tag);
    ctx.pipeToSelf(gateway.submit(settings.id(), tag),
        (job, err) -> err == null ? new SubmitSucceeded(tag, job) : new SubmitFailed(tag, rootMessage(err)));
  }

  private ReplyEffect<Event, State> onSubmitSucceeded(State s, SubmitSucceeded c) {
    submitting.remove(c.tag());
    submitFailures = 0;
    if (lastError != null && lastError.kind() == Problem.Kind.SUBMISSION) lastError = null;
    return Effect().persist(new JobTracked(c.tag(), c.job().jobId(), clock.instant()))
        .thenRun(st -> {
          ctx.getLog().info("job {} submitted for {}", c.job().jobId(), settings.id());
          spawn(st.jobs().get(c.job().jobId()));
          children.get(c.job().jobId()).tell(new SlurmJobActor.Observe(c.job()));
        })
        .thenNoReply();
  }

  private ReplyEffect<Event, State> onSubmitFailed(State s, SubmitFailed c) {
    submitting.remove(c.tag());
    submitFailures++;
    lastError = new Problem(Problem.Kind.SUBMISSION, "submit failed: " + c.reason());
    Duration delay = backoff.after(submitFailures);
    submitNotBefore = clock.instant().plus(delay);
    ctx.getLog().warn("submitting a job for {} failed ({}); retrying in {} s", settings.id(), c.reason(), delay.toSeconds());
    return Effect().persist(new IntentDropped(c.tag(), c.reason(), clock.instant()))
        .thenRun(st -> timers.startSingleTimer(Tick.EVALUATE, Tick.EVALUATE, delay))
        .thenNoReply();
  }

  private String newTag() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return core.deployment() + "." + HexFormat.of().formatHex(b);
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  // ---------------------------------------------------------------- status

  private ServiceStatus status(State s) {
    Instant now = clock.instant();
    List<ServiceStatus.Replica> replicas = new ArrayList<>();
    s.intents().entrySet().stream().sorted(Map.Entry.comparingByValue()).forEach(i -> replicas.add(new ServiceStatus.Replica(
        i.getKey(), ReplicaPhase.SUBMITTING, false, null, null, i.getValue(), null, null, null, null, null, 0, 0, "starting",
        null, "submitting")));
    s.jobs().values().stream()
        .sorted(Comparator.comparing(TrackedJob::submittedAt))
        .forEach(j -> {
          ReplicaView v = views.get(j.jobId());
          int running = inFlight.getOrDefault(j.jobId(), 0);
          if (v == null) {
            replicas.add(new ServiceStatus.Replica(j.jobId(), ReplicaPhase.PENDING, false, null, null, j.submittedAt(), null,
                null, null, null, null, running, 0, "starting", null, "recovering"));
            return;
          }
          Long left = v.endsAt() == null ? null : Math.max(0, Duration.between(now, v.endsAt()).toSeconds());
          String reason = cancelling.containsKey(j.jobId()) ? "cancelling: " + cancelling.get(j.jobId()) : v.reason();
          replicas.add(new ServiceStatus.Replica(j.jobId(), v.phase(), v.routable() && !drainAsked.contains(j.jobId()),
              v.slurmState(), v.node(), v.submittedAt(), v.startedAt(), v.endsAt(), v.readyAt(), v.drainingAt(), v.end(),
              running, v.failedChecks(), health(v), left, reason));
        });
    var q = new ServiceStatus.Queue(queue.size(), settings.maxQueue(), settings.maxQueueWait(), queue.perUser());
    var scaling = lastScaling != null ? lastScaling
        : new ServiceStatus.Scaling(demand(), 0, scale == null ? 0 : scale.target(), null, null, startup);
    return new ServiceStatus(settings.id(), settings.cluster(), s.createdAt(), minReplicas(s), maxReplicas(s),
        settings.maxInflightPerReplica(), scale == null ? minReplicas(s) : scale.target(), replicas, q, scaling,
        startFailures >= core.recovery().degradedAfter(), lastError == null ? null : lastError.text(), logTail, now);
  }

  private static String health(ReplicaView v) {
    return switch (v.phase()) {
      case READY -> v.failedChecks() > 0 || !v.routable() ? "failing" : "ok";
      case DRAINING -> "draining";
      case ENDED -> "ended";
      default -> "starting";
    };
  }

  // ---------------------------------------------------------------- events and recovery

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
          autoscaler = autoscaler(s);
          // Start from what runs: a restart must neither submit nor cancel before demand has been seen.
          int running = s.jobs().size() + s.intents().size();
          scale = Autoscaler.Scale.initial(Math.max(minReplicas(s), Math.min(maxReplicas(s), running)));
          s.jobs().values().forEach(this::spawn);
          Duration poll = core.clusters().get(settings.cluster()).pollInterval();
          timers.startTimerWithFixedDelay(Tick.POLL, Tick.POLL, poll);
          timers.startTimerWithFixedDelay("evaluate", Tick.EVALUATE, EVALUATE_EVERY);
          ctx.getSelf().tell(Tick.POLL);
        })
        .build();
  }
}
