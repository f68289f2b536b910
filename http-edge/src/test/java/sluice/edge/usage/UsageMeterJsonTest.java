package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import sluice.mock.MockLlm;
import sluice.mock.MockLlmConfig;

/** Non-streaming answers: the body passes unchanged and its top-level usage is captured, whatever its size. */
class UsageMeterJsonTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "meter-json";
  static final Instant NOW = Instant.parse("2025-01-02T03:04:05Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static MockLlm llm;

  @BeforeAll static void start() throws Exception {
    llm = MockLlm.start(MockLlmConfig.defaults().withModel(MODEL).withTokens(7));
  }

  @AfterAll static void stop() {
    llm.close();
    testKit.shutdownTestKit();
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/v1/chat/completions|{\"model\":\"meter-json\",\"messages\":[{\"role\":\"user\",\"content\":\"three little words\"}]}|3|7",
      "/v1/completions|{\"model\":\"meter-json\",\"prompt\":[\"one two\",\"three four five\"],\"max_tokens\":4}|5|4",
      "/v1/embeddings|{\"model\":\"meter-json\",\"input\":[\"embed these\",\"and this\"]}|4|0",
  })
  void usageOfChatCompletionsAndEmbeddingsIsWhatTheServerReported(String spec) throws Exception {
    String[] s = spec.split("\\|");
    ByteString body = post(s[0], s[1]);
    JsonNode reported = JSON.readTree(body.toArray()).get("usage");
    TokenUsage expected = new TokenUsage(Long.parseLong(s[2]), Long.parseLong(s[3]));
    assertEquals(expected.promptTokens(), reported.get("prompt_tokens").asLong());
    assertEquals(expected.total(), reported.get("total_tokens").asLong());

    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString out = Streams.json(testKit.system(), meter, List.of(body));

    assertEquals(body, out);
    assertEquals(Optional.of(expected), meter.usage());
    assertTrue(meter.reachedEnd());
    assertEquals(Optional.of(NOW), meter.firstTokenAt());
  }

  @Test
  void piecesCutAtAnyByteGiveTheSameUsage() throws Exception {
    ByteString body = post("/v1/chat/completions",
        "{\"model\":\"meter-json\",\"messages\":[{\"role\":\"user\",\"content\":\"split \\u00e9 me\"}],\"max_tokens\":2}");
    for (int at = 0; at <= body.size(); at++) {
      UsageMeter meter = new UsageMeter(CLOCK);
      assertEquals(body, Streams.json(testKit.system(), meter, Streams.splitAt(body, at)));
      assertEquals(Optional.of(new TokenUsage(3, 2)), meter.usage(), "split at " + at);
      assertTrue(meter.reachedEnd(), "split at " + at);
    }
  }

  @Test
  void aBodyOfMoreThanTenMegabytesPassesWholeAndItsUsageAtTheEndIsFound() throws Exception {
    ByteStringBuilder big = new ByteStringBuilder();
    big.putBytes(bytes("{\"object\":\"list\",\"data\":["));
    for (int i = 0; i < 45_000; i++) {
      big.putBytes(bytes((i == 0 ? "" : ",") + "{\"object\":\"embedding\",\"index\":" + i + ",\"embedding\":"
          + "[0.125,-0.25,0.5,0.75,-0.875,0.0625,0.3125,-0.4375,0.125,-0.25,0.5,0.75,-0.875,0.0625,0.3125,-0.4375,"
          + "0.125,-0.25,0.5,0.75,-0.875,0.0625,0.3125,-0.4375],\"usage\":{\"prompt_tokens\":1}}"));
    }
    big.putBytes(bytes("],\"model\":\"x\",\"note\":\"" + "n".repeat(1_000_000) + "\","
        + "\"usage\":{\"prompt_tokens\":45000,\"total_tokens\":45000}}"));
    ByteString body = big.result();
    assertTrue(body.size() > 10 * 1024 * 1024, "size " + body.size());

    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString out = Streams.json(testKit.system(), meter, Streams.pieces(body, 64 * 1024));

    assertEquals(body, out);
    assertEquals(Optional.of(new TokenUsage(45_000, 0)), meter.usage());
    assertTrue(meter.reachedEnd());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"choices\":[1,2,}],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":1}}",
      "<html><body>502 Bad Gateway</body></html>",
      "{\"id\":\"cut-off\",\"choices\":[{\"message\":{\"content\":\"abc",
      "",
  })
  void aBodyThatIsNotWholeJsonPassesUnchangedWithoutUsage(String text) throws Exception {
    ByteString body = ByteString.fromString(text);
    UsageMeter meter = new UsageMeter(CLOCK);

    ByteString out = Streams.json(testKit.system(), meter, Streams.pieces(body, 7));

    assertEquals(body, out);
    assertEquals(Optional.empty(), meter.usage());
    assertFalse(meter.reachedEnd());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "{\"data\":[{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}],\"meta\":{\"usage\":{\"prompt_tokens\":9}}}",
      "[{\"usage\":{\"prompt_tokens\":5,\"completion_tokens\":1}}]",
      "{\"usage\":null}",
      "{\"usage\":{\"prompt_tokens\":-1,\"completion_tokens\":1}}",
      "{\"usage\":{\"prompt_tokens\":99999999999999999999999,\"completion_tokens\":1}}",
  })
  void onlyAWellFormedTopLevelUsageCounts(String text) throws Exception {
    UsageMeter meter = new UsageMeter(CLOCK);

    Streams.json(testKit.system(), meter, List.of(ByteString.fromString(text)));

    assertEquals(Optional.empty(), meter.usage());
    assertTrue(meter.reachedEnd());
  }

  @Test
  void aTopLevelUsageAfterANestedOneIsTheOneThatCounts() throws Exception {
    UsageMeter meter = new UsageMeter(CLOCK);

    Streams.json(testKit.system(), meter, List.of(ByteString.fromString(
        "{\"meta\":{\"usage\":{\"prompt_tokens\":9,\"completion_tokens\":9}},\"usage\":{\"completion_tokens\":3,"
            + "\"details\":{\"prompt_tokens\":8},\"prompt_tokens\":2},\"after\":{\"usage\":{\"prompt_tokens\":7}}}")));

    assertEquals(Optional.of(new TokenUsage(2, 3)), meter.usage());
  }

  private static byte[] bytes(String s) {
    return s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
  }

  private static ByteString post(String path, String body) throws Exception {
    HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(llm.baseUrl() + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode(), new String(response.body()));
    return ByteString.fromArrayUnsafe(response.body());
  }
}
