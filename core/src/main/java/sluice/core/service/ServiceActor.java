package sluice.core.service;

import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
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
import sluice.core.CborSerializable;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.job.SlurmJobActor;
import sluice.core.policy.Backoff;
import sluice.core.policy.ReplicaChooser;
import sluice.core.policy.ReplicaLoad;
import sluice.core.policy.ReplicaTarget;

/**
 * One model, served by Slurm jobs: sharded by service id, event-sourced, parent of one {@link SlurmJobActor} per job.
 *
 * <p>Persisted: which jobs it owns and its submission intents. An intent (a unique tag) is stored before the job is
 * submitted, so after a crash the tag finds the job on the cluster and nothing is submitted twice. Runtime only:
 * replica views, leases and requests in flight per replica, and the queue of requests waiting for a replica.
 */
public final class ServiceActor
    extends EventSourcedBehaviorWithEnforcedReplies<ServiceActor.Command, ServiceActor.Event, ServiceActor.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "Service");

  // ---------------------------------------------------------------- protocol

  public sealed interface Command extends CborSerializable {}

  /** Starts the entity (and its jobs) without asking anything; sent for every configured service at start-up. */
  public enum Wake implements Command { INSTANCE }

  /** Asks for a ready replica, waiting up to the service's queue wait. {@code leaseId} must be unique per request. */
  public record Acquire(String leaseId, ActorRef<LeaseReply> replyTo) implements Command {}

  /** The request holding this lease has ended (completed, failed or cancelled). */
  public record Release(String leaseId) implements Command {}

  public record GetStatus(ActorRef<ServiceStatus> replyTo) implements Command {}

  /** A child's report, through a message adapter. */
  record ReplicaChanged(ReplicaView view) implements Command {}

  private enum Tick implements Command { POLL, RECONCILE }

  /** A job listing; {@code asked} is when this actor asked for it (the listing may be a little older, see onPolled). */
  private record Polled(List<JobSnapshot> jobs, Instant asked) implements Command {}

  private record PollFailed(String reason) implements Command {}

  private record SubmitSucceeded(String tag, JobSnapshot job) implements Command {}

  private record SubmitFailed(String tag, String reason) implements Command {}

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

  public record TrackedJob(String jobId, String tag, Instant submittedAt) implements CborSerializable {}

  public record State(Instant createdAt, Map<String, Instant> intents, Map<String, TrackedJob> jobs) implements CborSerializable {
    public State {
      intents = Map.copyOf(intents);
      jobs = Map.copyOf(jobs);
    }

    State withIntent(String tag, Instant at) {
      Map<String, Instant> i = new HashMap<>(intents);
      i.put(tag, at);
      return new State(createdAt, i, jobs);
    }

    State withoutIntent(String tag) {
      Map<String, Instant> i = new HashMap<>(intents);
      i.remove(tag);
      return new State(createdAt, i, jobs);
    }

    State withJob(TrackedJob job) {
      Map<String, TrackedJob> j = new HashMap<>(jobs);
      j.put(job.jobId(), job);
      return new State(createdAt, intents, j).withoutIntent(job.tag());
    }

    State withoutJob(String jobId) {
      Map<String, TrackedJob> j = new HashMap<>(jobs);
      j.remove(jobId);
      return new State(createdAt, intents, j);
    }
  }

  // ---------------------------------------------------------------- behaviour

  private record Waiter(ActorRef<LeaseReply> replyTo, Instant since) {}

  private static final SecureRandom RANDOM = new SecureRandom();

  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final ServiceSettings settings;
  private final CoreSettings core;
  private final ClusterGateway gateway;
  private final Clock clock;
  private final ReplicaTarget target;
  private final Backoff submitBackoff;
  private final ActorRef<ReplicaView> childReports;

  private final Map<String, ActorRef<SlurmJobActor.Command>> children = new HashMap<>();
  private final Map<String, ReplicaView> views = new HashMap<>();
  private final Map<String, Integer> inFlight = new HashMap<>();
  private final Map<String, String> leases = new HashMap<>();            // lease id -> job id
  private final LinkedHashMap<String, Waiter> waiters = new LinkedHashMap<>();
  private final Set<String> submitting = new HashSet<>();
  private boolean polledSinceStart;
  private int submitFailures;
  private String lastError;

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
    this.core = core;
    this.gateway = gateway;
    this.clock = clock;
    this.target = new ReplicaTarget(settings.minReplicas(), settings.maxReplicas());
    this.submitBackoff = new Backoff(core.submitRetryMin(), core.submitRetryMax());
    this.childReports = ctx.messageAdapter(ReplicaView.class, ReplicaChanged::new);
  }

  @Override public State emptyState() { return new State(null, Map.of(), Map.of()); }

  @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(100, 2); }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Wake.class, this::onWake)
        .onCommand(Acquire.class, this::onAcquire)
        .onCommand(Release.class, (s, c) -> onRelease(c))
        .onCommand(GetStatus.class, (s, c) -> Effect().reply(c.replyTo(), status(s)))
        .onCommand(ReplicaChanged.class, this::onReplicaChanged)
        .onCommand(Tick.class, this::onTick)
        .onCommand(Polled.class, this::onPolled)
        .onCommand(PollFailed.class, (s, c) -> {
          lastError = "cannot list jobs: " + c.reason();
          return Effect().noReply();
        })
        .onCommand(SubmitSucceeded.class, this::onSubmitSucceeded)
        .onCommand(SubmitFailed.class, this::onSubmitFailed)
        .onCommand(WaitExpired.class, (s, c) -> onWaitExpired(c))
        .onCommand(ChildStopped.class, this::onChildStopped)
        .build();
  }

  private ReplyEffect<Event, State> onWake(State s, Wake w) {
    if (s.createdAt() != null) return Effect().noReply();
    return Effect().persist(new Created(clock.instant())).thenNoReply();
  }

  // ---------------------------------------------------------------- requests

  private ReplyEffect<Event, State> onAcquire(State s, Acquire a) {
    Optional<String> job = choose();
    if (job.isPresent()) {
      grant(a.leaseId(), a.replyTo(), job.get());
    } else if (waiters.size() >= settings.maxQueue()) {
      a.replyTo().tell(new LeaseReply.Unavailable("the queue of " + settings.id() + " is full", retryAfterSeconds()));
    } else {
      waiters.put(a.leaseId(), new Waiter(a.replyTo(), clock.instant()));
      timers.startSingleTimer(a.leaseId(), new WaitExpired(a.leaseId()), settings.maxQueueWait());
    }
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onRelease(Release r) {
    String job = leases.remove(r.leaseId());
    if (job != null) inFlight.computeIfPresent(job, (k, n) -> n > 1 ? n - 1 : null);
    serveWaiters();
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onWaitExpired(WaitExpired e) {
    Waiter w = waiters.remove(e.leaseId());
    if (w != null) {
      w.replyTo().tell(new LeaseReply.Unavailable("no replica of " + settings.id() + " became ready within "
          + settings.maxQueueWait().toSeconds() + " s", retryAfterSeconds()));
    }
    return Effect().noReply();
  }

  private Optional<String> choose() {
    List<ReplicaLoad> loads = views.values().stream()
        .sorted(Comparator.comparing(ReplicaView::submittedAt, Comparator.nullsLast(Comparator.naturalOrder())))
        .map(v -> new ReplicaLoad(v.jobId(), v.routable(), inFlight.getOrDefault(v.jobId(), 0)))
        .toList();
    return ReplicaChooser.pick(loads, settings.maxInflightPerReplica());
  }

  private void grant(String leaseId, ActorRef<LeaseReply> replyTo, String jobId) {
    inFlight.merge(jobId, 1, Integer::sum);
    leases.put(leaseId, jobId);
    replyTo.tell(new LeaseReply.Granted(settings.id(), settings.cluster(), jobId, leaseId));
  }

  private void serveWaiters() {
    while (!waiters.isEmpty()) {
      Optional<String> job = choose();
      if (job.isEmpty()) return;
      Map.Entry<String, Waiter> first = waiters.entrySet().iterator().next();
      waiters.remove(first.getKey());
      timers.cancel(first.getKey());
      grant(first.getKey(), first.getValue().replyTo(), job.get());
    }
  }

  /** A hint for clients: soon when a replica is on its way, longer when none is. */
  private long retryAfterSeconds() {
    boolean starting = !submitting.isEmpty() || views.values().stream().anyMatch(v -> v.phase() != ReplicaPhase.ENDED && !v.routable());
    return starting ? 5 : 30;
  }

  // ---------------------------------------------------------------- replicas

  private ReplyEffect<Event, State> onReplicaChanged(State s, ReplicaChanged c) {
    ReplicaView v = c.view();
    if (!s.jobs().containsKey(v.jobId())) return Effect().noReply();
    if (v.phase() == ReplicaPhase.ENDED) {
      return Effect().persist(new JobForgotten(v.jobId(), v.reason(), clock.instant()))
          .thenRun(st -> {
            ctx.getLog().info("replica {} of {} ended: {}", v.jobId(), settings.id(), v.reason());
            views.remove(v.jobId());
            inFlight.remove(v.jobId());
            reconcileSoon();
          })
          .thenNoReply();
    }
    views.put(v.jobId(), v);
    if (v.routable()) serveWaiters();
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onChildStopped(State s, ChildStopped c) {
    children.remove(c.jobId());
    TrackedJob job = s.jobs().get(c.jobId());
    if (job != null) spawn(job);            // stopped without ending (e.g. its journal failed): recover it again
    return Effect().noReply();
  }

  private void spawn(TrackedJob job) {
    if (children.containsKey(job.jobId())) return;
    var spec = new SlurmJobActor.Spec(settings.id(), job.jobId(), job.tag(), job.submittedAt(), core.probeInterval());
    ActorRef<SlurmJobActor.Command> child = ctx.spawn(SlurmJobActor.create(spec, gateway, childReports, clock), "job-" + job.jobId());
    ctx.watchWith(child, new ChildStopped(job.jobId()));
    children.put(job.jobId(), child);
  }

  // ---------------------------------------------------------------- polling and submitting

  private ReplyEffect<Event, State> onTick(State s, Tick t) {
    if (t == Tick.POLL) {
      Instant asked = clock.instant();
      ctx.pipeToSelf(gateway.jobs(), (jobs, err) -> err == null ? new Polled(jobs, asked) : new PollFailed(err.getMessage()));
      return Effect().noReply();
    }
    return reconcile(s);
  }

  private ReplyEffect<Event, State> onPolled(State s, Polled p) {
    polledSinceStart = true;
    if (lastError != null && lastError.startsWith("cannot list jobs")) lastError = null;
    Map<String, JobSnapshot> byId = new HashMap<>();
    Map<String, JobSnapshot> byTag = new HashMap<>();
    for (JobSnapshot j : p.jobs()) {
      if (!settings.id().equals(j.service())) continue;
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
    // Intents left by an earlier incarnation: the submission either reached the cluster (adopt) or it did not.
    List<Event> resolved = new ArrayList<>();
    for (String tag : s.intents().keySet()) {
      if (submitting.contains(tag)) continue;
      JobSnapshot found = byTag.get(tag);
      if (found != null) resolved.add(new JobTracked(tag, found.jobId(), clock.instant()));
      else resolved.add(new IntentDropped(tag, "not on the cluster after a restart", clock.instant()));
    }
    if (resolved.isEmpty()) return reconcile(s);
    return Effect().persist(resolved)
        .thenRun(st -> {
          for (Event e : resolved) {
            if (e instanceof JobTracked t) {
              ctx.getLog().info("adopted job {} of {} found by its tag", t.jobId(), settings.id());
              spawn(st.jobs().get(t.jobId()));
              children.get(t.jobId()).tell(new SlurmJobActor.Observe(byId.get(t.jobId())));
            }
          }
          reconcileSoon();
        })
        .thenNoReply();
  }

  /** Submits jobs up to the target. Waits for the first poll after a start, so recovered jobs are counted first. */
  private ReplyEffect<Event, State> reconcile(State s) {
    if (!polledSinceStart) return Effect().noReply();
    int missing = target.toSubmit(s.jobs().size() + s.intents().size());
    if (missing == 0) return Effect().noReply();
    List<Event> intents = new ArrayList<>();
    for (int i = 0; i < missing; i++) intents.add(new SubmitIntended(newTag(), clock.instant()));
    return Effect().persist(intents)
        .thenRun(st -> intents.forEach(e -> submit(((SubmitIntended) e).tag())))
        .thenNoReply();
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
    if (lastError != null && lastError.startsWith("submit failed")) lastError = null;
    Instant now = clock.instant();
    return Effect().persist(new JobTracked(c.tag(), c.job().jobId(), now))
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
    lastError = "submit failed: " + c.reason();
    Duration delay = submitBackoff.after(submitFailures);
    ctx.getLog().warn("submitting a job for {} failed ({}); retrying in {} s", settings.id(), c.reason(), delay.toSeconds());
    return Effect().persist(new IntentDropped(c.tag(), c.reason(), clock.instant()))
        .thenRun(st -> timers.startSingleTimer(Tick.RECONCILE, Tick.RECONCILE, delay))
        .thenNoReply();
  }

  private void reconcileSoon() {
    if (submitFailures == 0) ctx.getSelf().tell(Tick.RECONCILE);
    else timers.startSingleTimer(Tick.RECONCILE, Tick.RECONCILE, submitBackoff.after(submitFailures));
  }

  private String newTag() {
    byte[] b = new byte[8];
    RANDOM.nextBytes(b);
    return core.deployment() + "." + UUID.nameUUIDFromBytes(b).toString().replace("-", "").substring(0, 16);
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  // ---------------------------------------------------------------- status

  private ServiceStatus status(State s) {
    List<ServiceStatus.Replica> replicas = s.jobs().values().stream()
        .sorted(Comparator.comparing(TrackedJob::submittedAt))
        .map(j -> {
          ReplicaView v = views.get(j.jobId());
          return v == null
              ? new ServiceStatus.Replica(j.jobId(), ReplicaPhase.SUBMITTED, false, null, null, j.submittedAt(), null, null, null,
                  inFlight.getOrDefault(j.jobId(), 0), "recovering")
              : new ServiceStatus.Replica(j.jobId(), v.phase(), v.routable(), v.slurmState(), v.node(), v.submittedAt(),
                  v.startedAt(), v.endsAt(), v.readyAt(), inFlight.getOrDefault(j.jobId(), 0), v.reason());
        })
        .toList();
    return new ServiceStatus(settings.id(), settings.cluster(), s.createdAt(), settings.minReplicas(), settings.maxReplicas(),
        settings.maxInflightPerReplica(), replicas, waiters.size(), submitting.size(), lastError);
  }

  // ---------------------------------------------------------------- events and recovery

  @Override public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Created.class, (s, e) -> new State(e.at(), s.intents(), s.jobs()))
        .onEvent(SubmitIntended.class, (s, e) -> s.withIntent(e.tag(), e.at()))
        .onEvent(JobTracked.class, (s, e) -> s.withJob(new TrackedJob(e.jobId(), e.tag(), s.intents().getOrDefault(e.tag(), e.at()))))
        .onEvent(IntentDropped.class, (s, e) -> s.withoutIntent(e.tag()))
        .onEvent(JobForgotten.class, (s, e) -> s.withoutJob(e.jobId()))
        .build();
  }

  @Override public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> {
          if (!s.jobs().isEmpty() || !s.intents().isEmpty()) {
            ctx.getLog().info("{} recovered {} jobs and {} pending submissions", settings.id(), s.jobs().size(), s.intents().size());
          }
          s.jobs().values().forEach(this::spawn);
          Duration poll = core.clusters().get(settings.cluster()).pollInterval();
          timers.startTimerWithFixedDelay(Tick.POLL, Tick.POLL, poll);
          ctx.getSelf().tell(Tick.POLL);
        })
        .build();
  }
}
