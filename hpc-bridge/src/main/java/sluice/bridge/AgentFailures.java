package sluice.bridge;

import sluice.agent.wire.Messages;
import sluice.agent.wire.StreamResetException;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;

/**
 * The one translation of the agent's protocol problems (docs/protocol.md §6) into core's {@link ClusterFailure}. The
 * switches name every code, so a code added to the protocol does not compile here until someone decides what it means.
 */
public final class AgentFailures {
  private AgentFailures() {}

  /** An error reply: the agent refused the call, or the model server failed before its response head. */
  public static ClusterException refusal(Messages.Reply reply) {
    Messages.Problem p = reply.error();
    ClusterFailure reason = switch (p.code()) {
      case UNKNOWN_SERVICE -> ClusterFailure.UNKNOWN_SERVICE;
      case UNKNOWN_JOB -> ClusterFailure.UNKNOWN_JOB;
      case JOB_NOT_RUNNING -> ClusterFailure.JOB_NOT_RUNNING;
      case PATH_NOT_ALLOWED -> ClusterFailure.PATH_NOT_ALLOWED;
      case SCHEDULER_ERROR -> ClusterFailure.SCHEDULER_ERROR;
      case BAD_REQUEST -> ClusterFailure.BAD_CALL;
      // The agent answers 504 when the model server sent no response head in time, 502 when it failed.
      case UPSTREAM_ERROR -> reply.status() == 504 ? ClusterFailure.UPSTREAM_TIMEOUT : ClusterFailure.UPSTREAM_ERROR;
      // Codes the agent does not put in a reply, and codes of a newer agent: the agent failed the call.
      case NORMAL, PROTOCOL_ERROR, INTERNAL, CANCELLED, REFUSED, FLOW_CONTROL, STREAM_CLOSED, SESSION_CLOSED, EOF, IO_ERROR,
           UNRECOGNIZED -> ClusterFailure.AGENT_ERROR;
    };
    return new ClusterException(reason, p.message());
  }

  /** A reset stream, or one its session ended under. */
  public static ClusterException reset(StreamResetException e, String message) {
    ClusterFailure reason = switch (e.code()) {
      case REFUSED -> ClusterFailure.AGENT_BUSY;
      case SESSION_CLOSED -> ClusterFailure.CONNECTION_LOST;
      case UPSTREAM_ERROR -> ClusterFailure.UPSTREAM_ERROR;
      case NORMAL, PROTOCOL_ERROR, INTERNAL, CANCELLED, BAD_REQUEST, FLOW_CONTROL, STREAM_CLOSED, UNKNOWN_SERVICE,
           UNKNOWN_JOB, JOB_NOT_RUNNING, PATH_NOT_ALLOWED, SCHEDULER_ERROR, EOF, IO_ERROR, UNRECOGNIZED ->
          ClusterFailure.AGENT_ERROR;
    };
    return new ClusterException(reason, message);
  }
}
