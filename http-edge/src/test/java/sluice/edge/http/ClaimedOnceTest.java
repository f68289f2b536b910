package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.lang.ref.WeakReference;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import sluice.core.Stages;

/** A response body runs once: sent by the server, or cancelled when no one sends it; and it is not kept afterwards. */
class ClaimedOnceTest {
  private static final ActorTestKit KIT = ActorTestKit.create("claimed-once");

  @AfterAll static void stop() { KIT.shutdownTestKit(); }

  @Test void aBodyNoOneRunsIsRunAndCancelledAfterTheTimeout() throws Exception {
    CompletableFuture<Done> ended = new CompletableFuture<>();
    ClaimedOnce.of(Source.<Integer>never().watchTermination((m, done) -> {
      Stages.whenDone(done, (d, e) -> ended.complete(Done.getInstance()));    // the lease is released here
      return m;
    }), Duration.ofMillis(200), KIT.system());
    ended.get(5, TimeUnit.SECONDS);
  }

  @Test void onlyTheFirstToRunTheBodyGetsIt() throws Exception {
    Source<Integer, NotUsed> once = ClaimedOnce.of(Source.from(List.of(1, 2, 3)), Duration.ofMinutes(10), KIT.system());
    assertEquals(List.of(1, 2, 3), once.runWith(Sink.seq(), KIT.system()).toCompletableFuture().get(5, TimeUnit.SECONDS));
    assertEquals(List.of(), once.runWith(Sink.seq(), KIT.system()).toCompletableFuture().get(5, TimeUnit.SECONDS));
  }

  /** The timer of a body that was sent must not keep it (and its request's stream graph) until the timeout. */
  @Test void aBodyThatWasRunIsNotHeldUntilTheTimeout() throws Exception {
    WeakReference<byte[]> held = runOnce(Duration.ofMinutes(10));
    Await.until(Duration.ofSeconds(10), "the body collected", () -> {
      System.gc();
      return held.get() == null;
    });
  }

  private static WeakReference<byte[]> runOnce(Duration unclaimedAfter) throws Exception {
    byte[] payload = new byte[1 << 20];
    Source<byte[], NotUsed> once = ClaimedOnce.of(Source.single(payload), unclaimedAfter, KIT.system());
    once.runWith(Sink.ignore(), KIT.system()).toCompletableFuture().get(5, TimeUnit.SECONDS);
    return new WeakReference<>(payload);
  }
}
