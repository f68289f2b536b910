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

class DrainTest {
  static ActorSystem<Void> system;

  @BeforeAll static void start() { system = ActorSystem.create(Behaviors.empty(), "drain-test"); }

  @AfterAll static void stop() { system.terminate(); }

  @Test void streamsThatEndLeaveNothingBehind() throws Exception {
    Drain drain = new Drain();
    for (int i = 0; i < 1000; i++) {
      List<ByteString> out = drain.endingAtDeadline(Source.single(ByteString.fromString("data: x\n\n")))
          .runWith(Sink.seq(), system).toCompletableFuture().get(5, TimeUnit.SECONDS);
      assertEquals(List.of(ByteString.fromString("data: x\n\n")), out, "a stream that ends by itself is unchanged");
    }
    // A stream's ending is removed when its termination is seen, which may come a moment after its sink completed.
    sluice.agent.testing.Await.until(Duration.ofSeconds(5), "no open stream left (a gateway that serves millions of "
        + "streams keeps none of them)", () -> drain.openStreams() == 0);
  }

  @Test void aStreamOpenAtTheDeadlineEndsWithTheShutdownEvent() throws Exception {
    Drain drain = new Drain();
    var ended = drain.endingAtDeadline(Source.<ByteString>never()).runWith(Sink.seq(), system).toCompletableFuture();
    sluice.agent.testing.Await.until(Duration.ofSeconds(5), "the stream to be open", () -> drain.openStreams() == 1);
    drain.drain(Duration.ofMillis(400)).toCompletableFuture().get(5, TimeUnit.SECONDS);
    List<ByteString> out = ended.get(5, TimeUnit.SECONDS);
    assertEquals(1, out.size(), out.toString());
    assertTrue(out.get(0).utf8String().contains("\"code\":\"server_shutdown\""), out.get(0).utf8String());
    assertEquals(0, drain.openStreams());
    assertTrue(drain.draining(), "no new request is taken");
  }
}
