package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Clock;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.BoundedSourceQueue;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.EnumSource;
import org.junit.jupiter.params.provider.MethodSource;

/** Single events as other servers may write them: spacing, escapes, CRLF, member order, and events that are no chunk. */
class UsageMeterEventsTest {
  static final ActorTestKit testKit = ActorTestKit.create();
  static final Clock CLOCK = Clock.fixed(Instant.parse("2025-01-02T03:04:05Z"), ZoneOffset.UTC);

  @AfterAll static void stop() {
    testKit.shutdownTestKit();
  }

  enum Asked {
    NOTHING(false, false), INCLUDE(true, false), CONTINUOUS(true, true);

    final boolean include;
    final boolean continuous;

    Asked(boolean include, boolean continuous) {
      this.include = include;
      this.continuous = continuous;
    }
  }

  static final String SPACED = "data: { \"id\" : \"caf\\u00e9 \u2615\" , \"choices\" : [ { \"index\" : 0 , "
      + "\"delta\" : { \"content\" : \"\u00e9\" } } ] , \"usage\" : { \"prompt_tokens\" : 3 , \"completion_tokens\" : 1 ,"
      + " \"total_tokens\" : 4 } , \"x\" : 1.50e0 }\r\n\r\n";

  static Stream<Arguments> rewrites() {
    return Stream.of(
        // usage after other members, with spaces, escapes and CRLF: only ` , "usage" : {…}` goes
        Arguments.of(Asked.NOTHING, SPACED, SPACED.replace(" , \"usage\" : { \"prompt_tokens\" : 3 , \"completion_tokens\" : 1 ,"
            + " \"total_tokens\" : 4 }", "")),
        Arguments.of(Asked.INCLUDE, SPACED, SPACED.replace("{ \"prompt_tokens\" : 3 , \"completion_tokens\" : 1 ,"
            + " \"total_tokens\" : 4 }", "null")),
        Arguments.of(Asked.CONTINUOUS, SPACED, SPACED),
        // usage first, then last member, then alone; a string value and no "data: " space
        Arguments.of(Asked.NOTHING, "data: {\"usage\":null, \"choices\":[{\"text\":\"a\"}]}\n\n",
            "data: {\"choices\":[{\"text\":\"a\"}]}\n\n"),
        Arguments.of(Asked.NOTHING, "data:{\"choices\":[{\"text\":\"}\"}],\"usage\":\"odd\"}\n\n",
            "data:{\"choices\":[{\"text\":\"}\"}]}\n\n"),
        Arguments.of(Asked.NOTHING, "data: {\"usage\":{\"prompt_tokens\":1}}\n\n", "data: {}\n\n"),
        // the usage-only chunk goes for a client that asked nothing, stays for one that asked
        Arguments.of(Asked.NOTHING, "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n", ""),
        Arguments.of(Asked.INCLUDE, "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n",
            "data: {\"id\":\"x\",\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}\n\n"),
        // an "event:" line and a comment line around the data line are kept
        Arguments.of(Asked.NOTHING, ": note\nevent: chunk\ndata: {\"choices\":[{}],\"usage\":null}\n\n",
            ": note\nevent: chunk\ndata: {\"choices\":[{}]}\n\n"),
        // structures where strings or counts belong are skipped whole
        Arguments.of(Asked.NOTHING, "data: {\"choices\":[{\"delta\":{\"content\":{\"a\":[1]}},\"text\":[2]}],"
                + "\"usage\":{\"prompt_tokens\":{\"x\":1},\"completion_tokens\":2},\"z\":1}\n\n",
            "data: {\"choices\":[{\"delta\":{\"content\":{\"a\":[1]}},\"text\":[2]}],\"z\":1}\n\n"),
        Arguments.of(Asked.NOTHING, "data: {\"usage\":[1,{\"prompt_tokens\":2}],\"choices\":[{}]}\n\n",
            "data: {\"choices\":[{}]}\n\n"),
        // "usage" deeper than the top level is the model's business
        Arguments.of(Asked.NOTHING, "data: {\"choices\":[{\"delta\":{\"usage\":1}}],\"meta\":{\"usage\":null}}\n\n",
            "data: {\"choices\":[{\"delta\":{\"usage\":1}}],\"meta\":{\"usage\":null}}\n\n"),
        Arguments.of(Asked.INCLUDE, "data: {\"choices\":[{}],\"usage\":null}\n\n", "data: {\"choices\":[{}],\"usage\":null}\n\n"));
  }

  @ParameterizedTest(name = "[{index}] {0}")
  @MethodSource("rewrites")
  void onlyTheTopLevelUsageMemberChanges(Asked asked, String event, String expected) throws Exception {
    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString out = Streams.sse(testKit.system(), meter, asked.include, asked.continuous, List.of(ByteString.fromString(event)));
    assertEquals(expected, out.utf8String());
  }

  /**
   * Many events in one piece, each rewritten on its own: the piece is rebuilt in one array, which must also grow when
   * a short usage value becomes {@code null} in event after event.
   */
  @ParameterizedTest(name = "{0}")
  @EnumSource(Asked.class)
  void aPieceOfManyEventsIsRewrittenEventByEvent(Asked asked) throws Exception {
    List<String> events = new ArrayList<>();
    for (int i = 0; i < 40; i++) {
      events.add("data: {\"choices\":[{\"delta\":{\"content\":\"t" + i + "\"}}],\"usage\":" + i % 10 + "}\n\n");
      events.add(": keep\n\n");                            // not a chunk: as it is
      events.add("data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":" + i + "}}\n\n");
    }
    events.add("data: [DONE]\n\n");
    StringBuilder expected = new StringBuilder();
    for (String event : events) {
      UsageMeter alone = new UsageMeter(CLOCK);
      expected.append(Streams.sse(testKit.system(), alone, asked.include, asked.continuous,
          List.of(ByteString.fromString(event))).utf8String());
    }

    UsageMeter meter = new UsageMeter(CLOCK);
    ByteString out = Streams.sse(testKit.system(), meter, asked.include, asked.continuous,
        List.of(ByteString.fromString(String.join("", events))));

    assertEquals(expected.toString(), out.utf8String());
    assertEquals(Optional.of(new TokenUsage(1, 39)), meter.usage());
    assertTrue(meter.reachedEnd());
    if (asked == Asked.INCLUDE) assertTrue(out.utf8String().contains("\"usage\":null}"), out.utf8String());
  }

  @Test
  void eventsThatAreNoCompletionChunkPassUnchangedAndDoNotStopTheStream() throws Exception {
    String odd = ": keep-alive\n\n"
        + "event: ping\ndata: hello\n\n"
        + "data: [1,2,{\"usage\":null}]\n\n"
        + "data: {\"choices\":[],\"usage\":{\"prompt_tokens\":1}\n\n"       // broken JSON
        + "data: {\"usage\":null} trailing\n\n"
        + "data: {\"usage\":null}\ndata: {\"usage\":null}\n\n"               // two data lines
        + "data: {\"usage\":null,\"usage\":null}\n\n"                         // a duplicate member
        + "data: {\"error\":{\"message\":\"The model server failed\",\"type\":\"server_error\"}}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"content\":\"x\"}}],\"usage\":{\"prompt_tokens\":2,\"completion_tokens\":1}}";
    UsageMeter meter = new UsageMeter(CLOCK);

    ByteString out = Streams.sse(testKit.system(), meter, false, false, List.of(ByteString.fromString(odd)));

    assertEquals(odd, out.utf8String(), "an unterminated last event is not a whole event either");
    assertEquals(Optional.of(new TokenUsage(0, 0)), meter.usage());
    assertFalse(meter.reachedEnd());
    assertEquals(Optional.empty(), meter.firstTokenAt());
  }

  @Test
  void contentIsTextDeltaContentReasoningOrToolCalls() throws Exception {
    String events = "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"reasoning_content\":\"hm\"}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"reasoning\":\"so\"}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"tool_calls\":[]}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"arguments\":\"{\"}}]}}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}},{\"delta\":{\"content\":\"b\"}}]}\n\n"
        + "data: {\"choices\":[{\"text\":\"\"}]}\n\n"
        + "data: {\"choices\":[{\"text\":\"t\"}]}\n\n"
        + "data: {\"choices\":[{\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n"
        + "data: [DONE]\n\n";
    UsageMeter meter = new UsageMeter(CLOCK);

    Streams.sse(testKit.system(), meter, false, false, List.of(ByteString.fromString(events)));

    assertEquals(Optional.of(new TokenUsage(0, 5)), meter.usage());
    assertTrue(meter.reachedEnd());
  }

  @Test
  void theFirstTokenIsTheFirstEventCarryingContentNotTheRoleChunk() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2025-01-01T00:00:00Z"));
    UsageMeter meter = new UsageMeter(clock);
    Pair<BoundedSourceQueue<ByteString>, SinkQueueWithCancel<ByteString>> queues = Source.<ByteString>queue(4)
        .via(meter.sse(false, false))
        .toMat(Sink.queue(), Keep.both())
        .run(testKit.system());

    exchange(queues, "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}\n\n");
    assertEquals(Optional.empty(), meter.firstTokenAt());
    clock.now = Instant.parse("2025-01-01T00:00:02Z");
    exchange(queues, "data: {\"choices\":[{\"delta\":{\"content\":\"Hi\"}}]}\n\n");
    clock.now = Instant.parse("2025-01-01T00:00:03Z");
    exchange(queues, "data: {\"choices\":[{\"delta\":{\"content\":\" there\"}}]}\n\n");
    queues.first().complete();

    assertEquals(Optional.of(Instant.parse("2025-01-01T00:00:02Z")), meter.firstTokenAt());
  }

  /** Offers one event and waits until the meter has passed it on. */
  private static void exchange(Pair<BoundedSourceQueue<ByteString>, SinkQueueWithCancel<ByteString>> queues, String event)
      throws Exception {
    queues.first().offer(ByteString.fromString(event));
    Optional<ByteString> out = queues.second().pull().toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(Optional.of(event), out.map(ByteString::utf8String));
  }

  static final class MutableClock extends Clock {
    volatile Instant now;

    MutableClock(Instant now) {
      this.now = now;
    }

    @Override public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override public Clock withZone(ZoneId zone) {
      return this;
    }

    @Override public Instant instant() {
      return now;
    }
  }
}
