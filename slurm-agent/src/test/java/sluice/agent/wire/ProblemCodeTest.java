package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.ValueSource;

/** The typed codes travel exactly as the former string constants did, and a code of a newer peer still decodes. */
class ProblemCodeTest {
  private static Messages.Problem problem(String json) {
    return WireJson.read(json.getBytes(StandardCharsets.UTF_8), Messages.Problem.class);
  }

  private static Messages.Reply reply(String json) {
    return WireJson.read(json.getBytes(StandardCharsets.UTF_8), Messages.Reply.class);
  }

  // The expected strings are what the string-coded Problem and Reply wrote, byte for byte, before the enum.
  @Test void problemJsonIsUnchanged() {
    assertEquals("{\"code\":\"job_not_running\",\"message\":\"job 7 is PENDING\"}",
        WireJson.write(new Messages.Problem(ProblemCode.JOB_NOT_RUNNING, "job 7 is PENDING")));
    assertEquals("{\"code\":\"session_closed\",\"message\":\"eof: peer closed the pipe\"}",
        WireJson.write(new Messages.Problem(ProblemCode.SESSION_CLOSED, "eof: peer closed the pipe")));
    assertEquals("{\"code\":\"refused\",\"message\":\"é \\\"quoted\\\" \\n\"}",
        WireJson.write(new Messages.Problem(ProblemCode.REFUSED, "é \"quoted\" \n")));
    assertEquals("{\"code\":\"internal\",\"message\":\"\"}", WireJson.write(new Messages.Problem(null, null)));
  }

  @Test void errorReplyJsonIsUnchanged() {
    assertEquals("{\"status\":403,\"headers\":{},\"error\":{\"code\":\"path_not_allowed\","
            + "\"message\":\"POST /admin is not allowed for mock-llm\"}}",
        WireJson.write(Messages.Reply.error(403, ProblemCode.PATH_NOT_ALLOWED, "POST /admin is not allowed for mock-llm")));
    assertEquals("{\"status\":504,\"headers\":{},\"error\":{\"code\":\"upstream_error\","
            + "\"message\":\"model server sent no response head in time\"}}",
        WireJson.write(Messages.Reply.error(504, ProblemCode.UPSTREAM_ERROR, "model server sent no response head in time")));
  }

  @ParameterizedTest
  @EnumSource(ProblemCode.class)
  void everyCodeTravelsAsItsWireStringAndComesBack(ProblemCode code) {
    Messages.Problem p = new Messages.Problem(code, "why");
    String json = WireJson.write(p);
    assertEquals("{\"code\":\"" + code.wire() + "\",\"message\":\"why\"}", json);
    assertEquals(p, problem(json));
    assertEquals(code, ProblemCode.fromWire(code.wire()));
    assertEquals(code.wire(), code.toString(), "logs name the code as the peer sees it");
  }

  @Test void wireStringsAreDistinctSnakeCase() {
    Set<String> wires = Arrays.stream(ProblemCode.values()).map(ProblemCode::wire).collect(Collectors.toSet());
    assertEquals(ProblemCode.values().length, wires.size());
    assertTrue(wires.stream().allMatch(w -> w.matches("[a-z]+(_[a-z]+)*")), wires.toString());
  }

  @Test void stringsOfTheFormerConstantsDecodeToTheirCodes() {
    assertEquals(ProblemCode.UPSTREAM_ERROR, problem("{\"code\":\"upstream_error\",\"message\":\"x\"}").code());
    Messages.Reply r = reply("{\"status\":409,\"error\":{\"code\":\"job_not_running\",\"message\":\"job 8 is PENDING\"}}");
    assertEquals(ProblemCode.JOB_NOT_RUNNING, r.error().code());
    assertEquals("job 8 is PENDING", r.error().message());
  }

  @Test void aCodeOfANewerPeerDecodesAsUnrecognizedAndKeepsTheRawCode() {
    Messages.Problem p = problem("{\"code\":\"quota_exceeded\",\"message\":\"over budget\",\"retryAfter\":5}");
    assertEquals(ProblemCode.UNRECOGNIZED, p.code());
    assertEquals("quota_exceeded: over budget", p.message());
    assertEquals("quota_exceeded", problem("{\"code\":\"quota_exceeded\"}").message(), "no message: the raw code alone");
    Messages.Reply r = reply("{\"status\":429,\"headers\":{},\"error\":{\"code\":\"quota_exceeded\",\"message\":\"slow down\"}}");
    assertTrue(r.hasError());
    assertEquals(429, r.status());
    assertEquals(ProblemCode.UNRECOGNIZED, r.error().code());
    assertEquals("quota_exceeded: slow down", r.error().message());
    assertEquals(ProblemCode.UNRECOGNIZED, ProblemCode.fromWire("Job_Not_Running"), "codes are exact, not case-folded");
  }

  @Test void theRawCodeCannotGrowTheMessagePastItsLimit() {
    String longCode = "x".repeat(5000);
    Messages.Problem p = problem("{\"code\":\"" + longCode + "\",\"message\":\"m\"}");
    assertEquals(ProblemCode.UNRECOGNIZED, p.code());
    assertEquals(Messages.Problem.MAX_MESSAGE, p.message().length());
  }

  @ParameterizedTest
  @ValueSource(strings = {"{\"message\":\"m\"}", "{\"code\":null,\"message\":\"m\"}", "{\"code\":\"\",\"message\":\"m\"}",
      "{\"code\":\"  \",\"message\":\"m\"}"})
  void aMissingOrBlankCodeIsInternalAsBefore(String json) {
    Messages.Problem p = problem(json);
    assertEquals(ProblemCode.INTERNAL, p.code());
    assertEquals("m", p.message());
  }

  @Test void onlyTheLocalCodesAreLocal() {
    Set<ProblemCode> local = Arrays.stream(ProblemCode.values()).filter(ProblemCode::isLocal).collect(Collectors.toSet());
    assertEquals(Set.of(ProblemCode.SESSION_CLOSED, ProblemCode.EOF, ProblemCode.IO_ERROR, ProblemCode.UNRECOGNIZED), local);
    assertFalse(ProblemCode.REFUSED.isLocal(), "the agent sends it, though the gateway also uses it locally");
  }
}
