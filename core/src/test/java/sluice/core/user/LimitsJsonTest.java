package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.json.JsonMapper;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class LimitsJsonTest {
  private static final JsonMapper JSON = new JsonMapper();

  private static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  @Test void userLimitsRoundTrip() {
    String text = """
        {"requests":{"minute":60,"hour":1000,"day":10000,"month":100000},
         "tokens":{"minute":0,"day":2000000},
         "concurrent":4,
         "models":{"big-model":{"requests":{"minute":10},"concurrent":1},"llama-3.1-8b":{"tokens":{"month":5}}}}""";
    UserLimits l = LimitsJson.userLimits(json(text));
    assertEquals(60L, l.user().requests().get(Window.MINUTE));
    assertEquals(100000L, l.user().requests().get(Window.MONTH));
    assertEquals(0L, l.user().tokens().get(Window.MINUTE));
    assertNull(l.user().tokens().get(Window.HOUR));
    assertEquals(4, l.user().concurrent());
    assertEquals(10L, l.forModel("big-model").requests().get(Window.MINUTE));
    assertEquals(1, l.forModel("big-model").concurrent());
    assertEquals(5L, l.forModel("llama-3.1-8b").tokens().get(Window.MONTH));
    assertEquals(json(text).toString(), LimitsJson.toJson(l).toString());   // windows in order, models sorted
    assertEquals(l, LimitsJson.userLimits(LimitsJson.toJson(l)));
  }

  @Test void keyLimitsRoundTripAndEmptyIsNoLimits() {
    Limits l = LimitsJson.limits(json("{\"requests\":{\"minute\":5},\"concurrent\":2}"));
    assertEquals(new Limits(Map.of(Window.MINUTE, 5L), Map.of(), 2), l);
    assertEquals("{\"requests\":{\"minute\":5},\"concurrent\":2}", LimitsJson.toJson(l).toString());
    assertEquals(Limits.NONE, LimitsJson.limits(json("{}")));
    assertEquals(Limits.NONE, LimitsJson.limits(null));
    assertEquals(UserLimits.NONE, LimitsJson.userLimits(json("null")));
    assertEquals("{}", LimitsJson.toJson(UserLimits.NONE).toString());
  }

  @Test void nullMeansNotSet() {
    UserLimits l = LimitsJson.userLimits(json("{\"requests\":{\"minute\":null,\"hour\":3},\"tokens\":null,\"concurrent\":null,\"models\":null}"));
    assertEquals(new UserLimits(new Limits(Map.of(Window.HOUR, 3L), Map.of(), null), Map.of()), l);
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{\"requests\":{\"minut\":1}}                 | limits.requests.minut: unknown window (minute, hour, day or month)",
      "{\"request\":{\"minute\":1}}                 | limits.request: unknown field (requests, tokens, concurrent or models)",
      "{\"requests\":{\"minute\":-1}}               | limits.requests.minute: must be an integer from 0",
      "{\"requests\":{\"minute\":1.5}}              | limits.requests.minute: must be an integer from 0",
      "{\"tokens\":{\"day\":\"100\"}}               | limits.tokens.day: must be an integer from 0",
      "{\"tokens\":{\"day\":99999999999999999999}}  | limits.tokens.day: must be an integer from 0",
      "{\"concurrent\":3000000000}                  | limits.concurrent: must be an integer from 0 to 2147483647",
      "{\"concurrent\":true}                        | limits.concurrent: must be an integer from 0",
      "{\"requests\":[1]}                           | limits.requests: must be an object",
      "[]                                           | limits: must be an object",
      "{\"models\":{\"bad id\":{}}}                 | limits.models.bad id: invalid model id",
      "{\"models\":{\"m\":{\"models\":{}}}}         | limits.models.m.models: not allowed here",
      "{\"models\":{\"m\":{\"requests\":{\"week\":1}}}} | limits.models.m.requests.week: unknown window",
      "{\"models\":[]}                              | limits.models: must be an object"})
  void userLimitErrorsNameTheField(String text, String message) {
    var e = assertThrows(IllegalArgumentException.class, () -> LimitsJson.userLimits(json(text)));
    if (!e.getMessage().startsWith(message)) throw new AssertionError("expected '" + message + "...', got: " + e.getMessage());
  }

  @Test void keyLimitsHaveNoModels() {
    var e = assertThrows(IllegalArgumentException.class, () -> LimitsJson.limits(json("{\"models\":{\"m\":{}}}")));
    assertEquals("limits.models: not allowed here (per-model limits belong to a user)", e.getMessage());
    var e2 = assertThrows(IllegalArgumentException.class, () -> LimitsJson.limits(json("{\"x\":1}"), "keys.limits"));
    assertEquals("keys.limits.x: unknown field (requests, tokens or concurrent)", e2.getMessage());
  }
}
