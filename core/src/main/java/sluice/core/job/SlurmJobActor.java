package sluice.core.job;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Objects;
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
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.ProbeOutcome;
import sluice.core.cluster.SlurmState;

/**
 * One Slurm job serving a model: an event-sourced lifecycle (pending, running, ready, draining, ended with its
 * reason), each step with its time.
 *
 * <p>The parent {@code ServiceActor} polls the cluster once for all its jobs and hands each child its
 * {@link Observe observation}; the child persists transitions, probes readiness and health through the agent and
 * reports every change to the parent with a {@link ReplicaView}. The parent decides (drain, cancel, replace); the
 * child only observes. A recovered child that was ready routes nothing until a probe in this incarnation succeeds:
 * the model server may have died while the gateway was down.
 */
public final class SlurmJobActor
    extends EventSourcedBehaviorWithEnforcedReplies<SlurmJobActor.Command, SlurmJobActor.Event, SlurmJobActor.State> {

  public sealed interface Command extends CborSerializable {}

  /** The scheduler's latest view of this job; a null snapshot means the scheduler no longer lists it. */
  public record Observe(JobSnapshot snapshot) implements Command {}

  /** Take no new requests from now on (renewal, scale-down, an operator); the parent cancels the job later. */
  public record Drain(String reason) implements Command {}

  /** A request to this replica just failed before its response: check its health now instead of at the next tick. */
  public enum CheckNow implements Command { INSTANCE }

  /** The replica's model server began answering a request (a response head came back): it is alive, if slow. */
  public enum Answered implements Command { INSTANCE }

  private enum ProbeTick implements Command { INSTANCE }

  /** A probe's answer; {@code unreachable} when it could not reach the replica at all (see {@link ReplicaView}). */
  private record Probed(ProbeOutcome outcome, ClusterFailure unreachable) implements Command {}

  /** Recovered in ENDED: stop once the parent has been told. */
  private enum StopRecoveredEnded implements Command { INSTANCE }

  public sealed interface Event extends CborSerializable {}

  public record Started(String node, Instant startedAt, Instant endsAt) implements Event {}

  public record BecameReady(Instant at) implements Event {}

  public record DrainStarted(String reason, Instant at) implements Event {}

  public record Ended(SlurmState finalState, String reason, Instant at) implements Event {}

  public record State(ReplicaPhase phase, String node, Instant startedAt, Instant endsAt, Instant readyAt,
                      Instant drainingAt, String drainReason, Instant endedAt, SlurmState finalState,
                      String endReason) implements CborSerializable {
    static State pending() { return new State(ReplicaPhase.PENDING, null, null, null, null, null, null, null, null, null); }

    State started(Started e) {
      return new State(phase == ReplicaPhase.PENDING ? ReplicaPhase.RUNNING : phase, e.node(), e.startedAt(), e.endsAt(),
          readyAt, drainingAt, drainReason, endedAt, finalState, endReason);
    }

    State ready(Instant at) {
      return new State(ReplicaPhase.READY, node, startedAt, endsAt, at, drainingAt, drainReason, endedAt, finalState, endReason);
    }

    State draining(DrainStarted e) {
      return new State(ReplicaPhase.DRAINING, node, startedAt, endsAt, readyAt, e.at(), e.reason(), endedAt, finalState, endReason);
    }

    State ended(Ended e) {
      return new State(ReplicaPhase.ENDED, node, startedAt, endsAt, readyAt, drainingAt, drainReason, e.at(), e.finalState(), e.reason());
    }
  }

  /** What the parent tells each child it spawns. */
  public record Spec(String service, String jobId, String tag, Instant submittedAt, Duration probeInterval,
                     Duration healthInterval) {}

  private final Spec spec;
  private final ClusterGateway gateway;
  private final ActorRef<ReplicaView> parent;
  private final ActorContext<Command> ctx;
  private final TimerScheduler<Command> timers;
  private final Clock clock;
  // Runtime only: rebuilt after every restart, never persisted.
  private boolean confirmed;                 // a probe succeeded in this incarnation and no check failed since
  private boolean probing;
  private boolean answeredDuringCheck;       // an Answered arrived while the current check was waiting
  private boolean keptWhileSlow;             // the last check timed out but the replica answered meanwhile
  private Duration probeEvery;
  private int failedChecks;
  private ClusterFailure unreachable;        // the last check could not reach the replica, or null
  private SlurmState lastSlurmState = SlurmState.PENDING;
  private Instant observedEnd;               // Slurm may move the end time (scontrol update TimeLimit=...)
  private String lastDetail;
  private boolean reported;
  private boolean checkAsked;                  // the parent treats a job it has no report of as unknown: report early

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

  @Override public State emptyState() { return State.pending(); }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Observe.class, this::onObserve)
        .onCommand(Drain.class, this::onDrain)
        .onCommand(CheckNow.class, (s, c) -> {
          checkAsked = true;                       // the parent waits for the answer, whatever it is
          return probe(s);
        })
        .onCommand(ProbeTick.class, (s, c) -> probe(s))
        .onCommand(Answered.class, (s, c) -> {
          answeredDuringCheck = true;
          return Effect().noReply();
        })
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
    boolean changed = false;
    if (snap.state() == SlurmState.RUNNING && snap.endTime() != null && !snap.endTime().equals(observedEnd)) {
      changed = observedEnd != null;
      observedEnd = snap.endTime();
    }
    if (snap.state() == SlurmState.RUNNING && s.startedAt() == null) {
      Instant started = snap.startTime() != null ? snap.startTime() : clock.instant();
      return Effect().persist(new Started(snap.node(), started, snap.endTime()))
          .thenRun(this::afterChange)
          .thenNoReply();
    }
    if (snap.state() != SlurmState.RUNNING) {
      changed |= confirmed;
      confirmed = false;                         // COMPLETING or SUSPENDED: keep it, but send it nothing
      changed |= s.phase() == ReplicaPhase.PENDING && !Objects.equals(lastDetail, snap.reason());
      lastDetail = snap.reason();
    }
    if (changed || !reported) report(s);
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onDrain(State s, Drain d) {
    if (s.phase() == ReplicaPhase.ENDED || s.phase() == ReplicaPhase.DRAINING) return Effect().noReply();
    confirmed = false;
    timers.cancel(ProbeTick.INSTANCE);
    return Effect().persist(new DrainStarted(d.reason(), clock.instant()))
        .thenRun(st -> {
          ctx.getLog().info("job {} of {} draining: {}", spec.jobId(), spec.service(), d.reason());
          report(st);
        })
        .thenNoReply();
  }

  private ReplyEffect<Event, State> probe(State s) {
    if (probing || lastSlurmState != SlurmState.RUNNING
        || !(s.phase() == ReplicaPhase.RUNNING || s.phase() == ReplicaPhase.READY)) {
      return Effect().noReply();
    }
    probing = true;
    answeredDuringCheck = false;
    ctx.pipeToSelf(gateway.probe(spec.service(), spec.jobId()), (outcome, err) -> {
      if (err == null) return new Probed(outcome, null);
      var cluster = ClusterException.in(err);
      return new Probed(new ProbeOutcome(false, "probe failed: " + cluster.map(Throwable::getMessage).orElse(err.getMessage())),
          cluster.map(ClusterException::reason).filter(ClusterFailure::cutOffFromCluster).orElse(null));
    });
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onProbed(State s, Probed p) {
    probing = false;
    boolean asked = checkAsked;
    checkAsked = false;
    boolean answered = answeredDuringCheck;
    if (s.phase() != ReplicaPhase.RUNNING && s.phase() != ReplicaPhase.READY) return Effect().noReply();
    lastDetail = p.outcome().detail();
    if (!p.outcome().ready()) {
      if (s.phase() == ReplicaPhase.READY && p.unreachable() != null) {
        // The check never reached the job: send it nothing meanwhile, but do not count this towards replacing it.
        boolean changed = confirmed || unreachable != p.unreachable();
        confirmed = false;
        unreachable = p.unreachable();
        if (changed) ctx.getLog().warn("job {} of {} cannot be checked: {}", spec.jobId(), spec.service(), lastDetail);
        scheduleProbes(spec.probeInterval());
        if (changed || asked) report(s);
      } else if (s.phase() == ReplicaPhase.READY && confirmed && p.outcome().timedOut() && answered) {
        // Busy, not dead: its model server answered requests while this check waited. Stopping its traffic would turn
        // a late health answer into refused requests; a hung server answers nothing and fails the next check.
        lastDetail = lastDetail + "; it answered requests meanwhile, so it keeps its traffic";
        boolean first = !keptWhileSlow;
        keptWhileSlow = true;
        if (first) ctx.getLog().warn("job {} of {}: {}", spec.jobId(), spec.service(), lastDetail);
        scheduleProbes(spec.probeInterval());
        if (first || asked) report(s);
      } else if (s.phase() == ReplicaPhase.READY) {       // a health check failed: no traffic until one passes
        keptWhileSlow = false;
        unreachable = null;
        failedChecks++;
        confirmed = false;
        ctx.getLog().warn("job {} of {} failed health check {}: {}", spec.jobId(), spec.service(), failedChecks, lastDetail);
        scheduleProbes(spec.probeInterval());
        report(s);
      }
      return Effect().noReply();
    }
    if (lastSlurmState != SlurmState.RUNNING) return Effect().noReply();
    boolean changed = !confirmed || failedChecks > 0 || keptWhileSlow;
    keptWhileSlow = false;
    confirmed = true;
    failedChecks = 0;
    unreachable = null;
    scheduleProbes(spec.healthInterval());
    if (s.phase() == ReplicaPhase.RUNNING) {
      return Effect().persist(new BecameReady(clock.instant())).thenRun(this::afterChange).thenNoReply();
    }
    if (changed) ctx.getLog().info("job {} of {} is ready (again)", spec.jobId(), spec.service());
    if (changed || asked) report(s);
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> end(Ended ended) {
    confirmed = false;
    timers.cancel(ProbeTick.INSTANCE);
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
    scheduleProbes(spec.probeInterval());
    ctx.getSelf().tell(ProbeTick.INSTANCE);
  }

  private void scheduleProbes(Duration every) {
    if (every.equals(probeEvery) && timers.isTimerActive(ProbeTick.INSTANCE)) return;
    probeEvery = every;
    timers.startTimerWithFixedDelay(ProbeTick.INSTANCE, ProbeTick.INSTANCE, every);
  }

  private void report(State s) {
    reported = true;
    parent.tell(view(s));
  }

  private ReplicaView view(State s) {
    boolean ended = s.phase() == ReplicaPhase.ENDED;
    String reason = ended ? s.endReason() : s.phase() == ReplicaPhase.DRAINING ? s.drainReason() : lastDetail;
    boolean routable = confirmed && s.phase() == ReplicaPhase.READY && lastSlurmState == SlurmState.RUNNING;
    return new ReplicaView(spec.jobId(), spec.tag(), s.phase(), routable, ended ? s.finalState() : lastSlurmState,
        s.node(), spec.submittedAt(), s.startedAt(), observedEnd != null ? observedEnd : s.endsAt(), s.readyAt(),
        s.drainingAt(), s.endedAt(), ended ? ReplicaEnd.of(s.finalState()) : null, failedChecks, reason,
        routable || s.phase() != ReplicaPhase.READY ? null : unreachable);
  }

  @Override public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(Started.class, State::started)
        .onEvent(BecameReady.class, (s, e) -> s.ready(e.at()))
        .onEvent(DrainStarted.class, State::draining)
        .onEvent(Ended.class, State::ended)
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
          if (s.startedAt() != null) lastSlurmState = SlurmState.RUNNING;
          if (s.phase() == ReplicaPhase.RUNNING || s.phase() == ReplicaPhase.READY) startProbing();
          // A job never seen running reports with its first observation: "pending" now might be wrong (adopted jobs).
          if (s.phase() != ReplicaPhase.PENDING || s.startedAt() != null) report(s);
        })
        .build();
  }
}
