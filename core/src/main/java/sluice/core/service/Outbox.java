package sluice.core.service;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import sluice.core.cluster.ClusterGateway;
import sluice.core.job.SlurmJobActor;

/**
 * What a service actor does to the world: calls to the cluster (list, submit, cancel, fetch a log), answered through
 * {@code pipeToSelf}, and drain orders to its children. A cancel, drain or log fetch decided during a step waits here
 * until the step's events are stored ({@link #takeQueued}); a listing persists nothing and a submission is only made once
 * its intent is stored, so those go out at once.
 */
final class Outbox {
  private final ActorContext<ServiceActor.Command> ctx;
  private final ClusterGateway gateway;
  private final String service;
  private final Clock clock;
  private final JobChildren children;
  private final Replicas replicas;
  private final List<Runnable> queued = new ArrayList<>();

  /** @param replicas where a cancel or drain is marked, so each job gets one (a failed cancel may be sent again) */
  Outbox(ActorContext<ServiceActor.Command> ctx, ClusterGateway gateway, String service, Clock clock, JobChildren children,
         Replicas replicas) {
    this.ctx = ctx;
    this.gateway = gateway;
    this.service = service;
    this.clock = clock;
    this.children = children;
    this.replicas = replicas;
  }

  void listJobs() { listJobs(null); }

  /** @param maxAge how old a shared listing may be to answer (null: as old as the cluster reuses one) */
  void listJobs(Duration maxAge) {
    Instant asked = clock.instant();
    ctx.pipeToSelf(gateway.jobs(maxAge), (jobs, err) -> err == null ? new ServiceActor.Polled(jobs, asked)
        : new ServiceActor.PollFailed(StartHealth.rootMessage(err)));
  }

  /** Submits the job of a stored intent; until its answer the tag is not taken for lost (see {@link ListingReconciler}). */
  void submit(String tag) {
    replicas.submitting(tag);
    ctx.getLog().info("submitting a job for {} (tag {})", service, tag);
    ctx.pipeToSelf(gateway.submit(service, tag), (job, err) -> err == null ? new ServiceActor.SubmitSucceeded(tag, job)
        : new ServiceActor.SubmitFailed(tag, StartHealth.rootMessage(err)));
  }

  /** Once stored: cancels the job, unless it is being cancelled; a success polls at once, so its end is seen soon. */
  void cancel(String jobId, String reason) {
    if (!replicas.cancel(jobId, reason)) return;
    queued.add(() -> {
      ctx.getLog().info("cancelling job {} of {}: {}", jobId, service, reason);
      ctx.pipeToSelf(gateway.cancel(jobId), (done, err) -> err == null ? ServiceActor.Tick.POLL
          : new ServiceActor.CancelFailed(jobId, StartHealth.rootMessage(err)));
    });
  }

  /** A cancel failed: the job may be cancelled again (the next decision that wants it gone does). */
  void cancelFailed(String jobId, String reason) {
    ctx.getLog().warn("cancelling job {} of {} failed ({}); retrying", jobId, service, reason);
    replicas.cancelFailed(jobId);
  }

  /** Once stored: the job's child takes no new requests (asked once per job). */
  void drain(String jobId, String reason) {
    if (children.has(jobId) && replicas.askDrain(jobId)) queued.add(() -> children.tell(jobId, new SlurmJobActor.Drain(reason)));
  }

  /** Once stored: fetches the last lines of the job's output, shown to operators with a failed start. */
  void fetchLogTail(String jobId, int lines) {
    queued.add(() -> ctx.pipeToSelf(gateway.logTail(service, jobId, lines), (tail, err) -> new ServiceActor.LogTailFetched(
        jobId, err == null ? tail : List.of("(no log: " + StartHealth.rootMessage(err) + ")"))));
  }

  /** Takes what the step queued, to run once its events are stored (or at once when it stored none). */
  Runnable takeQueued() {
    List<Runnable> out = List.copyOf(queued);
    queued.clear();
    return () -> out.forEach(Runnable::run);
  }
}
