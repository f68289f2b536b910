package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;
import sluice.mock.MockLlm;
import sluice.mock.MockLlmConfig;

/**
 * Streams from a real (in-process) mock-llm, asked for usage the way Sluice asks, must reach the client exactly as
 * mock-llm streams when the client's own request goes to it directly; and the meter bills what mock-llm reports.
 */
class UsageMeterStreamTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String MODEL = "meter-test";
  static final int TOKENS = 5;
  static final Instant NOW = Instant.parse("2025-01-02T03:04:05Z");
  static final Clock CLOCK = Clock.fixed(NOW, ZoneOffset.UTC);
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static MockLlm llm;

  @BeforeAll static void start() throws Exception {
    llm = MockLlm.start(MockLlmConfig.defaults().withModel(MODEL));
  }

  @AfterAll static void stop() {
    llm.close();
    testKit.shutdownTestKit();
  }

  enum Kind {
    CHAT("/v1/chat/completions", "\"messages\":[{\"role\":\"user\",\"content\":\"meter these five words\"}]"),
    TEXT("/v1/completions", "\"prompt\":\"meter these five words\"");

    final String path;
    final String input;

    Kind(String path, String input) {
      this.path = path;
      this.input = input;
    }

    /** The client's request; {@code options} is its stream_options member or empty. */
    String body(String options) {
      return "{\"model\":\"" + MODEL + "\"," + input + ",\"max_tokens\":" + TOKENS + ",\"temperature\":0.7,"
          + "\"stream\":true" + (options.isEmpty() ? "" : "," + options) + "}";
    }

    /** Events before the first token: chat's role chunk. */
    int lead() {
      return this == CHAT ? 1 : 0;
    }
  }

  enum Client {
    NOTHING(""),
    INCLUDE_FALSE("\"stream_options\":{\"include_usage\":false}"),
    INCLUDE_USAGE("\"stream_options\":{\"include_usage\":true}"),
    CONTINUOUS_ONLY("\"stream_options\":{\"continuous_usage_stats\":true}"),
    CONTINUOUS_USAGE("\"stream_options\":{\"include_usage\":true,\"continuous_usage_stats\":true}");

    final String options;

    Client(String options) {
      this.options = options;
    }
  }

  static Stream<Arguments> cases() {
    List<Arguments> all = new ArrayList<>();
    for (Kind kind : Kind.values()) {
      for (Client client : Client.values()) {
        for (boolean perChunk : new boolean[] {true, false}) all.add(Arguments.of(kind, client, perChunk));
      }
    }
    return all.stream();
  }

  @ParameterizedTest(name = "{0} {1} perChunkUsage={2}")
  @MethodSource("cases")
  void theClientGetsExactlyWhatItAskedForAndTheUsageIsWhatTheServerReported(Kind kind, Client client, boolean perChunk)
      throws Exception {
    String clientBody = kind.body(client.options);
    StreamOptions.Prepared prepared = StreamOptions.prepare(request(clientBody), perChunk);
    ByteString upstream = post(kind.path, prepared.body());
    assertTrue(upstream.utf8String().contains("\"usage\":{"), "Sluice always gets usage: " + upstream.utf8String());

    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString toClient = Streams.sse(testKit.system(), meter, prepared.clientIncludeUsage(),
        prepared.clientContinuousUsage(), List.of(upstream));

    ByteString direct = post(kind.path, ByteString.fromString(clientBody));
    assertEquals(normalised(direct), normalised(toClient));
    assertEquals(Optional.of(reportedUsage(kind)), meter.usage());
    assertTrue(meter.reachedEnd());
    assertEquals(Optional.of(NOW), meter.firstTokenAt());
  }

  @ParameterizedTest(name = "cut after {0} events")
  @ValueSource(ints = {1, 2, 3, 4, 5, 6})
  void aStreamCutByTheClientBillsTheCumulativeUsageOfItsLastForwardedChunk(int k) throws Exception {
    ByteString upstream = post(Kind.CHAT.path, StreamOptions.prepare(request(Kind.CHAT.body("")), true).body());
    List<ByteString> sent = Streams.events(upstream).subList(0, k);

    UsageMeter meter = new UsageMeter(CLOCK);
    Streams.sse(testKit.system(), meter, false, false, sent);

    TokenUsage full = reportedUsage(Kind.CHAT);
    int tokens = Math.min(k - 1, TOKENS);                  // the role chunk comes first
    assertEquals(Optional.of(new TokenUsage(full.promptTokens(), tokens)), meter.usage());
    assertFalse(meter.reachedEnd());
    assertEquals(tokens == 0 ? Optional.empty() : Optional.of(NOW), meter.firstTokenAt());
  }

  @ParameterizedTest(name = "cut after {0} events")
  @ValueSource(ints = {1, 3, 6})
  void withoutUsageInTheCutStreamEachContentChunkCountsAsOneToken(int k) throws Exception {
    ByteString upstream = post(Kind.CHAT.path, StreamOptions.prepare(request(Kind.CHAT.body("")), false).body());
    List<ByteString> sent = Streams.events(upstream).subList(0, k);

    UsageMeter meter = new UsageMeter(CLOCK);
    Streams.sse(testKit.system(), meter, false, false, sent);

    assertEquals(Optional.of(new TokenUsage(0, Math.min(k - 1, TOKENS))), meter.usage());
  }

  @Test
  void aServerThatReportsNoUsageIsBilledByItsContentChunks() throws Exception {
    ByteString plain = post(Kind.TEXT.path, ByteString.fromString(Kind.TEXT.body("")));

    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString toClient = Streams.sse(testKit.system(), meter, false, false, List.of(plain));

    assertEquals(plain, toClient);
    assertEquals(Optional.of(new TokenUsage(0, TOKENS)), meter.usage());
    assertTrue(meter.reachedEnd());
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("splitCases")
  void splittingTheUpstreamAtAnyByteGivesTheSameStream(Kind kind, Client client) throws Exception {
    var prepared = StreamOptions.prepare(request(kind.body(client.options)), true);
    ByteString upstream = post(kind.path, prepared.body());
    UsageMeter whole = new UsageMeter(CLOCK);
    ByteString expected = Streams.sse(testKit.system(), whole, prepared.clientIncludeUsage(),
        prepared.clientContinuousUsage(), List.of(upstream));
    assertNotEquals(upstream, expected, "this stream is rewritten");

    for (int at = 0; at <= upstream.size(); at++) {
      UsageMeter meter = new UsageMeter(CLOCK);
      ByteString split = Streams.sse(testKit.system(), meter, prepared.clientIncludeUsage(),
          prepared.clientContinuousUsage(), Streams.splitAt(upstream, at));
      assertEquals(expected, split, "split at " + at);
      assertEquals(whole.usage(), meter.usage(), "split at " + at);
    }
    UsageMeter bytewise = new UsageMeter(CLOCK);
    assertEquals(expected, Streams.sse(testKit.system(), bytewise, prepared.clientIncludeUsage(),
        prepared.clientContinuousUsage(), Streams.pieces(upstream, 1)));
    assertEquals(whole.usage(), bytewise.usage());
    assertTrue(bytewise.reachedEnd());
  }

  static Stream<Arguments> splitCases() {
    return Stream.of(Arguments.of(Kind.CHAT, Client.NOTHING), Arguments.of(Kind.TEXT, Client.INCLUDE_USAGE));
  }

  // ---------------------------------------------------------------- helpers

  static ObjectNode request(String json) throws Exception {
    return (ObjectNode) StreamOptions.read(ByteString.fromString(json));
  }

  static ByteString post(String path, ByteString body) throws Exception {
    HttpResponse<byte[]> response = HTTP.send(HttpRequest.newBuilder(URI.create(llm.baseUrl() + path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body.toArray())).build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode(), new String(response.body()));
    return ByteString.fromArrayUnsafe(response.body());
  }

  /** The usage mock-llm reports for the same request when it does not stream. */
  static TokenUsage reportedUsage(Kind kind) throws Exception {
    String body = kind.body("").replace(",\"stream\":true", "");
    JsonNode usage = JSON.readTree(post(kind.path, ByteString.fromString(body)).toArray()).get("usage");
    return new TokenUsage(usage.get("prompt_tokens").asLong(), usage.get("completion_tokens").asLong());
  }

  /** Only the id and the creation time differ between two calls. */
  static String normalised(ByteString stream) {
    return stream.utf8String()
        .replaceAll("\"id\":\"(chatcmpl|cmpl)-mock-\\d+\"", "\"id\":\"ID\"")
        .replaceAll("\"created\":\\d+", "\"created\":0");
  }
}
