package sluice.core.cluster;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletionStage;

/**
 * The port through which core reaches one HPC cluster: implemented by hpc-bridge over the agent protocol (a local
 * child process or SSH). Every stage fails with {@link ClusterException} when the cluster cannot answer.
 */
public interface ClusterGateway {
  /** Submits one job of {@code service}; resubmitting the same tag returns the job already submitted. */
  CompletionStage<JobSnapshot> submit(String service, String tag);

  /** Every job of this deployment the scheduler knows; one call serves all services of the cluster. */
  CompletionStage<List<JobSnapshot>> jobs();

  /**
   * As {@link #jobs()}, from a listing taken no more than {@code maxAge} ago: a gateway that reuses one listing for
   * several polls lists afresh when its listing is older; one that lists on every call needs nothing more. A null
   * {@code maxAge} is as old as the gateway reuses a listing anyway.
   */
  default CompletionStage<List<JobSnapshot>> jobs(Duration maxAge) { return jobs(); }

  /** Cancels a job; completes with false when it had already ended. */
  CompletionStage<Boolean> cancel(String jobId);

  /** Asks the job's model server for its health path through the agent. */
  CompletionStage<ProbeOutcome> probe(String service, String jobId);

  /**
   * The last lines of the job's output (its Slurm output file), read by the agent, with the job's secret masked; for
   * operators and for the reason a service is degraded. At most {@code maxLines} lines.
   */
  CompletionStage<List<String>> logTail(String service, String jobId, int maxLines);

  /** Sends a request to the job's model server; completes when the response head arrives. */
  CompletionStage<UpstreamResponse> forward(UpstreamRequest request);
}
