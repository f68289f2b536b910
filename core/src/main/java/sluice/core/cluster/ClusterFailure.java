package sluice.core.cluster;

import java.util.Locale;

/**
 * Why a call to a cluster failed: the whole vocabulary of the {@link ClusterGateway} port. The bridge maps the
 * agent's protocol codes onto it; the edge maps it onto what a client is told; {@link #label()} names it in logs.
 */
public enum ClusterFailure {
  /** No connection to the cluster's agent could be had within the connect wait. */
  UNAVAILABLE,
  /** The connection to the agent ended while the call was open. */
  CONNECTION_LOST,
  /** The agent would not open another stream (its stream limit, or its session is closing); nothing was sent. */
  AGENT_BUSY,
  /** The agent did not answer a control call (submit, list, cancel, probe, logs) in time. */
  AGENT_TIMEOUT,
  /** The agent reset the call: it failed, or the call broke the protocol. */
  AGENT_ERROR,
  /** The agent refused the call as malformed. */
  BAD_CALL,
  /** The service is not in the agent's config. */
  UNKNOWN_SERVICE,
  /** The agent did not submit this job for this service (or has forgotten it). */
  UNKNOWN_JOB,
  /** The job is not running: not yet, or not any more. */
  JOB_NOT_RUNNING,
  /** The method or path is outside the service's allow-list on the agent. */
  PATH_NOT_ALLOWED,
  /** sbatch, squeue or scancel (or the local scheduler) failed. */
  SCHEDULER_ERROR,
  /** The model server sent no response head in time. */
  UPSTREAM_TIMEOUT,
  /** The model server could not be reached, failed, or broke off its response. */
  UPSTREAM_ERROR;

  /** The stable name for logs and metrics: {@code job_not_running}. */
  public String label() { return name().toLowerCase(Locale.ROOT); }

  /**
   * Whether a request that failed this way before its response head may go to another replica: the replica is gone or
   * the way to it broke. Not refusals of the request itself (a path not allowed, a malformed call) nor timeouts, which
   * would only repeat.
   */
  public boolean worthRetrying() {
    return switch (this) {
      case UNAVAILABLE, CONNECTION_LOST, AGENT_BUSY, AGENT_ERROR, UNKNOWN_JOB, JOB_NOT_RUNNING, SCHEDULER_ERROR,
           UPSTREAM_ERROR -> true;
      case AGENT_TIMEOUT, BAD_CALL, UNKNOWN_SERVICE, PATH_NOT_ALLOWED, UPSTREAM_TIMEOUT -> false;
    };
  }
}
