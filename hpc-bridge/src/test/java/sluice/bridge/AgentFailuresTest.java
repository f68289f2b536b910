package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import sluice.agent.wire.Messages;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.StreamResetException;
import sluice.agent.wire.WireJson;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;

/** The agent's problem codes as the gateway's core sees them: the same mapping the string codes had. */
class AgentFailuresTest {
  private static ClusterFailure refusal(int status, ProblemCode code) {
    return AgentFailures.refusal(Messages.Reply.error(status, code, "m")).reason();
  }

  private static ClusterFailure reset(ProblemCode code) {
    return AgentFailures.reset(new StreamResetException(new Messages.Problem(code, "m")), "m").reason();
  }

  @Test void refusalsOfTheAgentMapOntoTheirFailures() {
    assertEquals(ClusterFailure.UNKNOWN_SERVICE, refusal(404, ProblemCode.UNKNOWN_SERVICE));
    assertEquals(ClusterFailure.UNKNOWN_JOB, refusal(404, ProblemCode.UNKNOWN_JOB));
    assertEquals(ClusterFailure.JOB_NOT_RUNNING, refusal(409, ProblemCode.JOB_NOT_RUNNING));
    assertEquals(ClusterFailure.PATH_NOT_ALLOWED, refusal(403, ProblemCode.PATH_NOT_ALLOWED));
    assertEquals(ClusterFailure.SCHEDULER_ERROR, refusal(503, ProblemCode.SCHEDULER_ERROR));
    assertEquals(ClusterFailure.BAD_CALL, refusal(400, ProblemCode.BAD_REQUEST));
    assertEquals(ClusterFailure.UPSTREAM_TIMEOUT, refusal(504, ProblemCode.UPSTREAM_ERROR), "no response head in time");
    assertEquals(ClusterFailure.UPSTREAM_ERROR, refusal(502, ProblemCode.UPSTREAM_ERROR));
  }

  @ParameterizedTest
  @EnumSource(value = ProblemCode.class, names = {"NORMAL", "PROTOCOL_ERROR", "INTERNAL", "CANCELLED", "REFUSED",
      "FLOW_CONTROL", "STREAM_CLOSED", "SESSION_CLOSED", "EOF", "IO_ERROR", "UNRECOGNIZED"})
  void anyOtherCodeInAReplyIsAFailureOfTheAgent(ProblemCode code) {
    assertEquals(ClusterFailure.AGENT_ERROR, refusal(500, code));
  }

  @Test void resetsMapOntoTheirFailures() {
    assertEquals(ClusterFailure.AGENT_BUSY, reset(ProblemCode.REFUSED));
    assertEquals(ClusterFailure.CONNECTION_LOST, reset(ProblemCode.SESSION_CLOSED));
    assertEquals(ClusterFailure.UPSTREAM_ERROR, reset(ProblemCode.UPSTREAM_ERROR));
  }

  @ParameterizedTest
  @EnumSource(value = ProblemCode.class, mode = EnumSource.Mode.EXCLUDE, names = {"REFUSED", "SESSION_CLOSED", "UPSTREAM_ERROR"})
  void anyOtherResetIsAFailureOfTheAgent(ProblemCode code) {
    assertEquals(ClusterFailure.AGENT_ERROR, reset(code));
  }

  @Test void aReplyWithACodeOfANewerAgentFailsAsTheAgentsErrorAndNamesTheCode() {
    Messages.Reply reply = WireJson.read("{\"status\":429,\"error\":{\"code\":\"quota_exceeded\",\"message\":\"slow down\"}}"
        .getBytes(StandardCharsets.UTF_8), Messages.Reply.class);
    ClusterException e = AgentFailures.refusal(reply);
    assertEquals(ClusterFailure.AGENT_ERROR, e.reason());
    assertEquals("quota_exceeded: slow down", e.getMessage());
  }

  @Test void theRefusalKeepsTheAgentsMessage() {
    ClusterException e = AgentFailures.refusal(new Messages.Reply(409, Map.of(), null,
        new Messages.Problem(ProblemCode.JOB_NOT_RUNNING, "job 7 is PENDING")));
    assertEquals("job 7 is PENDING", e.getMessage());
  }
}
