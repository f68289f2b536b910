package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

class KeepAliveCommentsTest {
  static ActorSystem<Void> system;
  static final ByteString A = ByteString.fromString("data: a\n\n");
  static final ByteString B = ByteString.fromString("data: b\n\n");

  @BeforeAll static void start() { system = ActorSystem.create(Behaviors.empty(), "keep-alive-test"); }

  @AfterAll static void stop() { system.terminate(); }

  @Test void aSilenceBetweenEventsCarriesCommentsAndTheEventsPassUnchanged() throws Exception {
    // 1 s of silence with a comment due after each 200 ms of it: four, or five when the last one races the event
    List<ByteString> out = Source.single(A).concat(Source.single(B).initialDelay(Duration.ofSeconds(1)))
        .via(SseEvents.keepAlive(Duration.ofMillis(200)))
        .runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(A, out.get(0));
    assertEquals(B, out.get(out.size() - 1));
    List<ByteString> between = out.subList(1, out.size() - 1);
    assertTrue(between.size() >= 4 && between.size() <= 5, "comments in 1 s of silence: " + between.size());
    assertTrue(between.stream().allMatch(SseEvents.KEEP_ALIVE::equals), between.toString());
  }

  @Test void eventsThatComeOftenEnoughGetNoComment() throws Exception {
    List<ByteString> out = Source.tick(Duration.ZERO, Duration.ofMillis(50), A).take(20)
        .via(SseEvents.keepAlive(Duration.ofMillis(300)))
        .runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(20, out.size(), out.toString());
  }

  @Test void aStreamThatNeverSpeaksStillGetsComments() throws Exception {
    List<ByteString> out = Source.<ByteString>never().via(SseEvents.keepAlive(Duration.ofMillis(100))).take(3)
        .runWith(Sink.seq(), system).toCompletableFuture().get(10, TimeUnit.SECONDS);
    assertEquals(List.of(SseEvents.KEEP_ALIVE, SseEvents.KEEP_ALIVE, SseEvents.KEEP_ALIVE), out);
  }
}
