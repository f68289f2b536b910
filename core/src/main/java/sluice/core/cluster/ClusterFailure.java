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
  /**
   * The connection is up, but the agent has not answered a ping within the ping timeout (stopped, wedged or starved):
   * new calls are refused at once and calls waiting for an answer are cut short, until it answers again.
   */
  TUNNEL_UNRESPONSIVE,
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
  /** The model server sent no response head in time, or nothing more of an open response for the silence timeout. */
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
      // Every replica of the cluster is behind the same unresponsive agent: another one would fail the same way.
      case TUNNEL_UNRESPONSIVE, AGENT_TIMEOUT, BAD_CALL, UNKNOWN_SERVICE, PATH_NOT_ALLOWED, UPSTREAM_TIMEOUT -> false;
    };
  }

  /**
   * Whether the call failed on the way to the cluster's agent, so it says nothing about a replica: a health check that
   * fails so stops the replica's traffic but does not count towards replacing it (a cancel could not get through
   * either, and the job is most likely fine).
   */
  public boolean cutOffFromCluster() {
    return switch (this) {
      case UNAVAILABLE, CONNECTION_LOST, TUNNEL_UNRESPONSIVE -> true;
      case AGENT_BUSY, AGENT_TIMEOUT, AGENT_ERROR, BAD_CALL, UNKNOWN_SERVICE, UNKNOWN_JOB, JOB_NOT_RUNNING, PATH_NOT_ALLOWED,
           SCHEDULER_ERROR, UPSTREAM_TIMEOUT, UPSTREAM_ERROR -> false;
    };
  }
}
