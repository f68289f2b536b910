package sluice.core.service;

import java.time.Clock;
import java.time.Instant;
import java.util.Collections;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaView;
import sluice.core.job.SlurmJobActor;
import sluice.core.service.ServiceActor.TrackedJob;

/**
 * A service's child actors: one {@link SlurmJobActor} per tracked job, watched, so that a child that stops without its
 * job ending (e.g. its journal failed) can be spawned again.
 */
final class JobChildren {
  private final ActorContext<ServiceActor.Command> ctx;
  private final ServiceSettings settings;
  private final CoreSettings core;
  private final ClusterGateway gateway;
  private final Clock clock;
  private final ActorRef<ReplicaView> reports;
  private final Function<String, ServiceActor.Command> stopped;
  private final Map<String, ActorRef<SlurmJobActor.Command>> children = new HashMap<>();
  private final Map<String, Instant> adoptedAt = new HashMap<>();

  /** @param stopped the message this actor gets when the child of a job id stops */
  JobChildren(ActorContext<ServiceActor.Command> ctx, ServiceSettings settings, CoreSettings core, ClusterGateway gateway,
              Clock clock, ActorRef<ReplicaView> reports, Function<String, ServiceActor.Command> stopped) {
    this.ctx = ctx;
    this.settings = settings;
    this.core = core;
    this.gateway = gateway;
    this.clock = clock;
    this.reports = reports;
    this.stopped = stopped;
  }

  /** Spawns the job's child unless it has one. */
  void spawn(TrackedJob job) {
    if (children.containsKey(job.jobId())) return;
    var spec = new SlurmJobActor.Spec(settings.id(), job.jobId(), job.tag(), job.submittedAt(), core.probeInterval(),
        settings.lifecycle().healthInterval());
    ActorRef<SlurmJobActor.Command> child = ctx.spawn(SlurmJobActor.create(spec, gateway, reports, clock), "job-" + job.jobId());
    ctx.watchWith(child, stopped.apply(job.jobId()));
    children.put(job.jobId(), child);
  }

  /** A job just tracked: spawns its child, which starts from what the cluster said of the job. */
  void adopt(TrackedJob job, JobSnapshot seen) {
    adoptedAt.put(job.jobId(), clock.instant());
    spawn(job);
    tell(job.jobId(), new SlurmJobActor.Observe(seen));
  }

  /** The job's child stopped; {@code job} is the job if it is still tracked, or null. */
  void stopped(String jobId, TrackedJob job) {
    children.remove(jobId);
    if (job == null) adoptedAt.remove(jobId);
    if (job != null) spawn(job);
  }

  boolean has(String jobId) { return children.containsKey(jobId); }

  Set<String> jobIds() { return Collections.unmodifiableSet(children.keySet()); }

  /** When this incarnation learned of each job it adopted (see {@link ListingReconciler#reconcile}). */
  Map<String, Instant> adoptedAt() { return Collections.unmodifiableMap(adoptedAt); }

  /** Tells the job's child, if it has one. */
  void tell(String jobId, SlurmJobActor.Command command) {
    ActorRef<SlurmJobActor.Command> child = children.get(jobId);
    if (child != null) child.tell(command);
  }
}
