package sluice.core.job;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import sluice.core.CborSerializable;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.ProbeOutcome;
import sluice.core.cluster.SlurmState;

/**
 * One Slurm job serving a model: an event-sourced lifecycle (submitted, running, ready, ended with its reason).
 *
 * <p>The parent {@code ServiceActor} polls the cluster once for all its jobs and hands each child its
 * {@link Observe observation}; the child persists transitions, probes readiness through the agent and reports every
 * change to the parent with a {@link ReplicaView}. A recovered child that was ready routes nothing until a probe in
 * this incarnation succeeds: the model server may have died while the gateway was down.
 */
public final class SlurmJobActor
    extends EventSourcedBehaviorWithEnforcedReplies<SlurmJobActor.Command, SlurmJobActor.Event, SlurmJobActor.State> {

  public sealed interface Command extends CborSerializable {}

  /** The scheduler's latest view of this job; a null snapshot means the scheduler no longer lists it. */
  public record Observe(JobSnapshot snapshot) implements Command {}

  public record GetView(ActorRef<ReplicaView> replyTo) implements Command {}

  private enum ProbeTick implements Command { INSTANCE }

  private record Probed(ProbeOutcome outcome) implements Command {}

  /** Recovered in ENDED: stop once the parent has been told. */
  private enum StopRecoveredEnded implements Command { INSTANCE }

  public sealed interface Event extends CborSerializable {}

  public record Started(String node, Instant startedAt, Instant endsAt) implements Event {}

  public record BecameReady(Instant at) implements Event {}

  public record Ended(SlurmState finalState, String reason, Instant at) implements Event {}

  public record State(ReplicaPhase phase, String node, Instant startedAt, Instant endsAt, Instant readyAt,
                      Instant endedAt, SlurmState finalState, String endReason) implements CborSerializable {
    static State submitted() { return new State(ReplicaPhase.SUBMITTED, null, null, null, null, null, null, null); }
  }

  /** What the parent tells each child it spawns. */
  public record Spec(String service, String jobId, String tag, Instant submittedAt, Duration probeInterval) {}

  private final Spec spec;
  private final ClusterGateway gateway;
  private final ActorRef<ReplicaView> parent;
  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Clock clock;
  // Runtime only: rebuilt after every restart, never persisted.
  private boolean routable;
  private boolean probing;
  private SlurmState lastSlurmState = SlurmState.PENDING;
  private String lastDetail;

  public static Behavior<Command> create(Spec spec, ClusterGateway gateway, ActorRef<ReplicaView> parent, Clock clock) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new SlurmJobActor(ctx, timers, spec, gateway, parent, clock)));
  }

  public static PersistenceId persistenceId(String tag) { return PersistenceId.of("SlurmJob", tag); }

  private SlurmJobActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, Spec spec, ClusterGateway gateway,
                        ActorRef<ReplicaView> parent, Clock clock) {
    super(persistenceId(spec.tag()),
        SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.timers = timers;
    this.spec = spec;
    this.gateway = gateway;
    this.parent = parent;
    this.clock = clock;
  }

  @Override public State emptyState() { return State.submitted(); }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Observe.class, this::onObserve)
        .onCommand(GetView.class, (s, c) -> Effect().reply(c.replyTo(), view(s)))
        .onCommand(ProbeTick.class, (s, c) -> onProbeTick(s))
        .onCommand(Probed.class, this::onProbed)
        .onCommand(StopRecoveredEnded.class, (s, c) -> Effect().stop().thenNoReply())
        .build();
  }

  private ReplyEffect<Event, State> onObserve(State s, Observe o) {
    if (s.phase() == ReplicaPhase.ENDED) return Effect().noReply();
    JobSnapshot snap = o.snapshot();
    if (snap == null) {
      return end(new Ended(SlurmState.UNKNOWN, "the scheduler no longer lists the job", clock.instant()));
    }
    lastSlurmState = snap.state();
    if (snap.state().isFinal()) {
      String reason = snap.state() + (snap.exitCode() == null ? "" : " exit " + snap.exitCode())
          + (snap.reason() == null || snap.reason().equals("None") ? "" : ": " + snap.reason());
      return end(new Ended(snap.state(), reason, snap.endTime() != null ? snap.endTime() : clock.instant()));
    }
    if (snap.state() == SlurmState.RUNNING && s.phase() == ReplicaPhase.SUBMITTED) {
      Instant started = snap.startTime() != null ? snap.startTime() : clock.instant();
      return Effect().persist(new Started(snap.node(), started, snap.endTime()))
          .thenRun(this::afterChange)
          .thenNoReply();
    }
    boolean wasRoutable = routable;
    if (snap.state() != SlurmState.RUNNING) {
      routable = false;                           // COMPLETING or SUSPENDED: keep it, but send it nothing
      lastDetail = snap.reason();
    }
    if (wasRoutable != routable || s.phase() == ReplicaPhase.SUBMITTED) report(s);
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onProbeTick(State s) {
    if (probing || routable || !(s.phase() == ReplicaPhase.RUNNING || s.phase() == ReplicaPhase.READY)) {
      return Effect().noReply();
    }
    probing = true;
    ctx.pipeToSelf(gateway.probe(spec.service(), spec.jobId()),
        (outcome, err) -> new Probed(err == null ? outcome : new ProbeOutcome(false, "probe failed: " + err.getMessage())));
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onProbed(State s, Probed p) {
    probing = false;
    lastDetail = p.outcome().detail();
    if (!p.outcome().ready() || s.phase() == ReplicaPhase.ENDED || lastSlurmState != SlurmState.RUNNING) {
      return Effect().noReply();
    }
    routable = true;
    timers.cancel(ProbeTick.INSTANCE);
    if (s.phase() == ReplicaPhase.READY) {             // re-adopted after a restart: ready again, nothing new to persist
      ctx.getLog().info("job {} of {} re-adopted and ready", spec.jobId(), spec.service());
      report(s);
      return Effect().noReply();
    }
    return Effect().persist(new BecameReady(clock.instant())).thenRun(this::afterChange).thenNoReply();
  }

  private ReplyEffect<Event, State> end(Ended ended) {
    routable = false;
    return Effect().persist(ended)
        .thenRun(s -> {
          ctx.getLog().info("job {} of {} ended: {}", spec.jobId(), spec.service(), s.endReason());
          report(s);
        })
        .thenStop()
        .thenNoReply();
  }

  private void afterChange(State s) {
    if (s.phase() == ReplicaPhase.RUNNING) {
      ctx.getLog().info("job {} of {} is running on {}", spec.jobId(), spec.service(), s.node());
      startProbing();
    } else if (s.phase() == ReplicaPhase.READY) {
      ctx.getLog().info("job {} of {} is ready", spec.jobId(), spec.service());
    }
    report(s);
  }

  private void startProbing() {
    if (!timers.isTimerActive(ProbeTick.INSTANCE)) {
      timers.startTimerWithFixedDelay(ProbeTick.INSTANCE, ProbeTick.INSTANCE, spec.probeInterval());
    }
    ctx.getSelf().tell(ProbeTick.INSTANCE);
  }

  private void report(State s) {
    parent.tell(view(s));
  }

  private ReplicaView view(State s) {
    String reason = s.phase() == ReplicaPhase.ENDED ? s.endReason() : lastDetail;
    return new ReplicaView(spec.jobId(), spec.tag(), s.phase(), routable,
        s.phase() == ReplicaPhase.ENDED ? s.finalState() : lastSlurmState, s.node(), spec.submittedAt(), s.startedAt(),
        s.endsAt(), s.readyAt(), reason);
  }

  @Override public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Started.class, (s, e) -> new State(ReplicaPhase.RUNNING, e.node(), e.startedAt(), e.endsAt(), null, null, null, null))
        .onEvent(BecameReady.class, (s, e) -> new State(ReplicaPhase.READY, s.node(), s.startedAt(), s.endsAt(), e.at(), null, null, null))
        .onEvent(Ended.class, (s, e) -> new State(ReplicaPhase.ENDED, s.node(), s.startedAt(), s.endsAt(), s.readyAt(), e.at(),
            e.finalState(), e.reason()))
        .build();
  }

  @Override public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder()
        .onSignal(RecoveryCompleted.instance(), s -> {
          if (s.phase() == ReplicaPhase.ENDED) {
            report(s);                                  // the parent may have missed it before a crash
            ctx.getSelf().tell(StopRecoveredEnded.INSTANCE);
            return;
          }
          if (s.phase() != ReplicaPhase.SUBMITTED) lastSlurmState = SlurmState.RUNNING;
          if (s.phase() == ReplicaPhase.RUNNING || s.phase() == ReplicaPhase.READY) startProbing();
          report(s);
        })
        .build();
  }
}
