package sluice.bridge;

import sluice.agent.wire.Codes;
import sluice.agent.wire.Messages;
import sluice.agent.wire.StreamResetException;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;

/** The one translation of the agent's protocol problems (docs/protocol.md §6) into core's {@link ClusterFailure}. */
public final class AgentFailures {
  private AgentFailures() {}

  /** An error reply: the agent refused the call, or the model server failed before its response head. */
  public static ClusterException refusal(Messages.Reply reply) {
    Messages.Problem p = reply.error();
    ClusterFailure reason = switch (p.code()) {
      case "unknown_service" -> ClusterFailure.UNKNOWN_SERVICE;
      case "unknown_job" -> ClusterFailure.UNKNOWN_JOB;
      case "job_not_running" -> ClusterFailure.JOB_NOT_RUNNING;
      case "path_not_allowed" -> ClusterFailure.PATH_NOT_ALLOWED;
      case "scheduler_error" -> ClusterFailure.SCHEDULER_ERROR;
      case Codes.BAD_REQUEST -> ClusterFailure.BAD_CALL;
      case Codes.UPSTREAM -> reply.status() == 504 ? ClusterFailure.UPSTREAM_TIMEOUT : ClusterFailure.UPSTREAM_ERROR;
      default -> ClusterFailure.AGENT_ERROR;
    };
    return new ClusterException(reason, p.message());
  }

  /** A reset stream, or one its session ended under. */
  public static ClusterException reset(StreamResetException e, String message) {
    ClusterFailure reason = switch (e.code()) {
      case Codes.REFUSED -> ClusterFailure.AGENT_BUSY;
      case Codes.SESSION_CLOSED -> ClusterFailure.CONNECTION_LOST;
      case Codes.UPSTREAM -> ClusterFailure.UPSTREAM_ERROR;
      default -> ClusterFailure.AGENT_ERROR;
    };
    return new ClusterException(reason, message);
  }
}
