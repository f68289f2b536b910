package sluice.core.service;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.ProbeOutcome;
import sluice.core.cluster.SlurmState;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.cluster.UpstreamResponse;

/**
 * The ClusterGateway port played by a scriptable scheduler in memory, for actor unit tests. The real path (agent,
 * local scheduler, model server) is covered by hpc-bridge's and http-edge's tests. Its times come from the test's clock,
 * the one the actors use.
 */
final class InMemoryCluster implements ClusterGateway {
  private final Clock clock;
  final Map<String, JobSnapshot> jobs = new ConcurrentHashMap<>();
  final Set<String> ready = ConcurrentHashMap.newKeySet();
  final AtomicInteger submits = new AtomicInteger();
  final AtomicInteger probes = new AtomicInteger();
  final List<String> cancelled = new ArrayList<>();
  private final AtomicInteger ids = new AtomicInteger(100);
  volatile int failNextSubmits;
  /** When set, submissions reach the "cluster" but the answer never comes back (a crash mid-submit). */
  volatile boolean loseSubmitReplies;
  /** When set, every probe fails with this before reaching a job (the way to the cluster is broken). */
  volatile ClusterFailure probesFailWith;
  /** When set, every health check reaches the job and times out, 100 ms after {@link #whileProbing} ran. */
  volatile boolean probesTimeOut;
  /** Runs as each health check starts (a busy model server answering requests meanwhile). */
  volatile Runnable whileProbing = () -> {};

  InMemoryCluster(Clock clock) { this.clock = clock; }

  @Override public CompletionStage<JobSnapshot> submit(String service, String tag) {
    submits.incrementAndGet();
    if (failNextSubmits > 0) {
      failNextSubmits--;
      return CompletableFuture.failedFuture(new ClusterException(ClusterFailure.SCHEDULER_ERROR, "sbatch: error: QOSMaxSubmitJobPerUserLimit"));
    }
    String id = Integer.toString(ids.incrementAndGet());
    JobSnapshot job = new JobSnapshot(id, service, tag, SlurmState.PENDING, null, null, null, "Priority", null);
    jobs.put(id, job);
    return loseSubmitReplies ? new CompletableFuture<>() : CompletableFuture.completedFuture(job);
  }

  @Override public CompletionStage<List<JobSnapshot>> jobs() {
    return CompletableFuture.completedFuture(List.copyOf(jobs.values()));
  }

  @Override public synchronized CompletionStage<Boolean> cancel(String jobId) {
    cancelled.add(jobId);
    end(jobId, SlurmState.CANCELLED);
    return CompletableFuture.completedFuture(true);
  }

  @Override public CompletionStage<ProbeOutcome> probe(String service, String jobId) {
    probes.incrementAndGet();
    ClusterFailure broken = probesFailWith;
    if (broken != null) return CompletableFuture.failedFuture(new ClusterException(broken, "the agent on login1 has not answered"));
    if (probesTimeOut) {
      whileProbing.run();
      return CompletableFuture.supplyAsync(() -> new ProbeOutcome(false, "health check timed out after 3000 ms", true),
          CompletableFuture.delayedExecutor(100, TimeUnit.MILLISECONDS, Runnable::run));
    }
    boolean ok = ready.contains(jobId);
    return CompletableFuture.completedFuture(new ProbeOutcome(ok, ok ? "health answered 200" : "health answered 503"));
  }

  @Override public CompletionStage<List<String>> logTail(String service, String jobId, int maxLines) {
    return CompletableFuture.completedFuture(List.of("loading weights", "CUDA error: out of memory (job " + jobId + ")"));
  }

  @Override public CompletionStage<UpstreamResponse> forward(UpstreamRequest request) {
    return CompletableFuture.failedFuture(new UnsupportedOperationException("not used by actor tests"));
  }

  String onlyJob() {
    if (jobs.size() != 1) throw new AssertionError("expected one job, have " + jobs.keySet());
    return jobs.keySet().iterator().next();
  }

  /** Starts the job now with an hour of time limit. */
  void run(String jobId) {
    Instant now = clock.instant();
    run(jobId, now, now.plusSeconds(3600));
  }

  void run(String jobId, Instant start, Instant end) {
    jobs.computeIfPresent(jobId, (k, j) -> new JobSnapshot(k, j.service(), j.tag(), SlurmState.RUNNING, "node-1",
        start, end, "None", null));
  }

  /** A job this deployment submitted that no actor knows (e.g. the journal was lost). */
  String orphan(String service, String tag) {
    String id = Integer.toString(ids.incrementAndGet());
    Instant now = clock.instant();
    jobs.put(id, new JobSnapshot(id, service, tag, SlurmState.RUNNING, "node-1", now, now.plusSeconds(3600), "None", null));
    return id;
  }

  synchronized List<String> cancelledJobs() { return List.copyOf(cancelled); }

  /** Ends the job now in {@code state}. */
  void end(String jobId, SlurmState state) {
    jobs.computeIfPresent(jobId, (k, j) -> new JobSnapshot(k, j.service(), j.tag(), state, j.node(), j.startTime(),
        clock.instant(), state == SlurmState.FAILED ? "NonZeroExitCode" : "None", state == SlurmState.FAILED ? 1 : 0));
    ready.remove(jobId);
  }
}
