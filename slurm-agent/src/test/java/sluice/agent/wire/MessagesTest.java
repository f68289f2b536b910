package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class MessagesTest {
  private static Messages.Call decode(String json) {
    return WireJson.read(json.getBytes(StandardCharsets.UTF_8), Messages.Call.class);
  }

  @Test void callsRoundTripWithTheirOpName() {
    Messages.Call c = new Messages.Forward("mock-llm", "12", "POST", "/v1/chat/completions",
        Map.of("content-type", "application/json"), "abc-1");
    assertEquals(c, decode(WireJson.write(c)));
    assertInstanceOf(Messages.ListJobs.class, decode("{\"op\":\"jobs\"}"));
    assertEquals(new Messages.Submit("mock-llm", "sluice.mock-llm.1a2b"),
        decode("{\"op\":\"submit\",\"service\":\"mock-llm\",\"tag\":\"sluice.mock-llm.1a2b\"}"));
  }

  @Test void logsRoundTripsAndDefaultsItsLineCount() {
    Messages.Logs logs = new Messages.Logs("mock-llm", "17", 20);
    String json = WireJson.write(logs);
    assertEquals("{\"op\":\"logs\",\"service\":\"mock-llm\",\"job\":\"17\",\"lines\":20}", json);
    assertEquals(logs, decode(json));
    assertEquals(new Messages.Logs("mock-llm", "17", Messages.DEFAULT_LOG_LINES),
        decode("{\"op\":\"logs\",\"service\":\"mock-llm\",\"job\":\"17\"}"), "no lines: the default");
    assertEquals(200, ((Messages.Logs) decode("{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":200}")).lines());
    assertEquals(1, ((Messages.Logs) decode("{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":1}")).lines());
  }

  @Test void logsResultRoundTrips() {
    var r = new Messages.LogsResult("17", java.util.List.of("loading", "token=***", ""), true);
    String json = WireJson.write(r);
    assertEquals("{\"job\":\"17\",\"lines\":[\"loading\",\"token=***\",\"\"],\"truncated\":true}", json);
    assertEquals(r, WireJson.convert(WireJson.MAPPER.valueToTree(r), Messages.LogsResult.class));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"op\":\"exec\",\"cmd\":\"id\"}",
      "{\"op\":\"submit\",\"service\":\"../etc\",\"tag\":\"t\"}",
      "{\"op\":\"submit\",\"service\":\"a;rm -rf /\",\"tag\":\"t\"}",
      "{\"op\":\"submit\",\"service\":\"svc\"}",
      "{\"op\":\"cancel\",\"job\":\"12 13\"}",
      "{\"op\":\"cancel\",\"job\":\"-1\"}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"CONNECT\",\"path\":\"/\"}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"GET\",\"path\":\"http://evil/\"}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"GET\",\"path\":\"/v1/../../admin\"}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"GET\",\"path\":\"/a b\"}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"GET\",\"path\":\"/\",\"headers\":{\"Host\":\"x\"}}",
      "{\"op\":\"http\",\"service\":\"s\",\"job\":\"1\",\"method\":\"GET\",\"path\":\"/\",\"headers\":{\"x-a\":\"v\\r\\nInjected: 1\"}}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":0}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":201}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":-5}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1\",\"lines\":\"all\"}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"../../etc/passwd\"}",
      "{\"op\":\"logs\",\"service\":\"s\",\"job\":\"1 2\"}",
      "{\"op\":\"logs\",\"service\":\"s\"}",
      "{\"op\":\"logs\",\"service\":\"../s\",\"job\":\"1\"}",
      "{\"op\":\"logs\",\"job\":\"1\"}",
      "{\"op\":\"jobs\"} trailing",
      "[1,2,3]",
      "not json"})
  void malformedOrHostileCallsAreRejected(String json) {
    assertThrows(IllegalArgumentException.class, () -> decode(json));
  }

  @Test void deeplyNestedPayloadsAreRejected() {
    String deep = "{\"op\":\"jobs\",\"x\":" + "[".repeat(100) + "]".repeat(100) + "}";
    assertThrows(IllegalArgumentException.class, () -> decode(deep));
  }
}
