package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ApiTest {
  @Test void aCompleteAnswerHasNoProblem() {
    assertNull(Api.problem(200, "{\"usage\":{\"completion_tokens\":10}}", false, 10));
    assertNull(Api.problem(200, "data: {\"choices\":[]}\n\ndata: [DONE]\n\n", true, 10));
  }

  @Test void statusMissingTokensAndBrokenStreamsAreProblems() {
    assertTrue(Api.problem(503, "{\"error\":{\"code\":\"model_not_ready\"}}", false, 2).startsWith("HTTP 503: "));
    assertTrue(Api.problem(200, "{\"usage\":{\"completion_tokens\":3}}", false, 10).startsWith("expected 10 tokens, got 3"));
    assertTrue(Api.problem(200, "<html>", false, 10).startsWith("not JSON"));
    assertTrue(Api.problem(200, "data: {}\n\n", true, 10).startsWith("broken stream"), "no [DONE]");
    assertTrue(Api.problem(200, "data: {\"error\":{\"message\":\"replica gone\"}}\n\ndata: [DONE]\n\n", true, 10)
        .startsWith("broken stream"), "an in-band error event");
  }
}
