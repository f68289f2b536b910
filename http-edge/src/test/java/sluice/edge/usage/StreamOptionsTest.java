package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.util.ArrayList;
import java.util.List;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class StreamOptionsTest {
  private static final ObjectMapper PLAIN = new ObjectMapper().enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS);

  private static ObjectNode request(String json) throws Exception {
    return (ObjectNode) StreamOptions.read(ByteString.fromString(json));
  }

  private static JsonNode tree(ByteString body) throws Exception {
    return PLAIN.readTree(body.toArrayUnsafe());
  }

  /** The model server must read the body as the gateway did: one JSON value, each field once. */
  @ParameterizedTest
  @org.junit.jupiter.params.provider.ValueSource(strings = {"{\"model\":\"m\"} trailing", "{\"model\":\"m\"}{}",
      "{\"model\":\"m\"} 1", "{\"model\":\"a\",\"model\":\"b\"}", "{\"model\":\"m\",\"stream_options\":{\"x\":1,\"x\":2}}"})
  void aBodyWithTrailingDataOrADuplicateFieldIsNoRequest(String json) {
    assertThrows(java.io.IOException.class, () -> StreamOptions.read(ByteString.fromString(json)));
  }

  @Test
  void numbersReachTheModelServerWithTheirExactValue() throws Exception {
    var prepared = StreamOptions.prepare(request("{\"model\":\"m\",\"stream\":true,\"temperature\":0.7,\"top_p\":1e-5,"
        + "\"seed\":12345678901234567890,\"presence_penalty\":1.0,\"frequency_penalty\":0.1000000000000000055511151231257827,"
        + "\"logit_bias\":{\"50256\":-100},\"max_tokens\":5}"), true);

    String body = prepared.body().utf8String();
    assertTrue(body.contains("\"temperature\":0.7,"), body);
    assertTrue(body.contains("\"seed\":12345678901234567890,"), body);
    assertTrue(body.contains("\"presence_penalty\":1.0,"), "a float stays a float: " + body);
    assertTrue(body.contains("\"frequency_penalty\":0.1000000000000000055511151231257827,"), body);
    JsonNode sent = tree(prepared.body());
    assertEquals(0, new BigDecimal("1e-5").compareTo(sent.get("top_p").decimalValue()), body);
    assertEquals(new BigInteger("12345678901234567890"), sent.get("seed").bigIntegerValue());
    assertEquals(-100, sent.get("logit_bias").get("50256").intValue());
  }

  @Test
  void usageIsRequestedAndTheClientsOtherOptionsAndFieldOrderAreKept() throws Exception {
    ObjectNode client = request("{\"model\":\"m\",\"stream_options\":{\"foo\":\"bar\",\"include_usage\":false},"
        + "\"stream\":true,\"messages\":[{\"role\":\"user\",\"content\":\"hi \\u00e9\"}]}");
    String before = client.toString();

    var prepared = StreamOptions.prepare(client, true);

    JsonNode sent = tree(prepared.body());
    assertEquals(List.of("model", "stream_options", "stream", "messages"), names(sent));
    assertEquals("{\"foo\":\"bar\",\"include_usage\":true,\"continuous_usage_stats\":true}",
        sent.get("stream_options").toString());
    assertEquals("hi \u00e9", sent.get("messages").get(0).get("content").textValue());
    assertFalse(prepared.clientIncludeUsage());
    assertFalse(prepared.clientContinuousUsage());
    assertEquals(before, client.toString(), "the client's request is left as it was");
  }

  @Test
  void withoutPerChunkUsageOnlyIncludeUsageIsAdded() throws Exception {
    var prepared = StreamOptions.prepare(request("{\"model\":\"m\",\"stream\":true,\"prompt\":\"x\"}"), false);

    JsonNode sent = tree(prepared.body());
    assertEquals(List.of("model", "stream", "prompt", "stream_options"), names(sent));
    assertEquals("{\"include_usage\":true}", sent.get("stream_options").toString());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "                                                            | false | false",
      "\"stream_options\":null,                                    | false | false",
      "\"stream_options\":{},                                      | false | false",
      "\"stream_options\":{\"include_usage\":null},                | false | false",
      "\"stream_options\":{\"include_usage\":true},                | true  | false",
      "\"stream_options\":{\"continuous_usage_stats\":true},       | false | true",
      "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}, | true | true",
  })
  void recordsWhatTheClientAskedFor(String options, boolean include, boolean continuous) throws Exception {
    String json = "{" + (options == null ? "" : options) + "\"model\":\"m\",\"stream\":true}";

    var prepared = StreamOptions.prepare(request(json), false);

    assertEquals(include, prepared.clientIncludeUsage());
    assertEquals(continuous, prepared.clientContinuousUsage());
    assertTrue(tree(prepared.body()).get("stream_options").get("include_usage").booleanValue());
  }

  @ParameterizedTest
  @CsvSource(delimiter = '|', value = {
      "\"stream_options\":\"yes\"                                | stream_options",
      "\"stream_options\":[true]                                 | stream_options",
      "\"stream_options\":{\"include_usage\":\"true\"}           | stream_options.include_usage",
      "\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":1} | stream_options.continuous_usage_stats",
  })
  void invalidStreamOptionsAreTheClientsErrorNotOverwritten(String options, String param) throws Exception {
    ObjectNode client = request("{\"model\":\"m\",\"stream\":true," + options + "}");

    var e = assertThrows(StreamOptions.InvalidStreamOptions.class, () -> StreamOptions.prepare(client, true));

    assertEquals(param, e.param());
    assertTrue(e.getMessage().contains(param), e.getMessage());
  }

  @Test
  void aRequestThatDoesNotStreamIsRefused() throws Exception {
    assertThrows(IllegalArgumentException.class, () -> StreamOptions.prepare(request("{\"model\":\"m\"}"), true));
    assertThrows(IllegalArgumentException.class,
        () -> StreamOptions.prepare(request("{\"model\":\"m\",\"stream\":false}"), true));
  }

  private static List<String> names(JsonNode node) {
    List<String> names = new ArrayList<>();
    node.fieldNames().forEachRemaining(names::add);
    return names;
  }
}
