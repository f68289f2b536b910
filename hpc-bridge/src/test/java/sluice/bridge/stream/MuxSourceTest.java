package sluice.bridge.stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.ProblemCode;

/** A response body as the HTTP side pulls it from a real mux session over loopback. */
class MuxSourceTest {
  private ActorSystem<Void> system;
  private Socket client;
  private Socket server;

  @BeforeEach void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "mux-source-test");
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (ServerSocket listener = new ServerSocket(0, 1, lo)) {
      client = new Socket(lo, listener.getLocalPort());
      server = listener.accept();
    }
  }

  @AfterEach void stop() throws Exception {
    client.close();
    server.close();
    system.terminate();
  }

  /** Events that queued up while the client was busy reach it as one element, not one element per frame. */
  @Test void framesBufferedWhileDownstreamWaitsArriveAsOneElement() throws Exception {
    int events = 50;
    StringBuilder all = new StringBuilder();
    for (int i = 0; i < events; i++) all.append("data: ").append(i).append("\n\n");
    Banner.write(server.getOutputStream());
    MuxSession.server(server.getInputStream(), server.getOutputStream(), Limits.DEFAULT, "stand-in", stream -> {
      try {
        stream.sendReply(new Messages.Reply(200, Map.of("content-type", "text/event-stream"), null, null), false);
        for (int i = 0; i < events; i++) {
          byte[] event = ("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8);
          stream.write(event, 0, event.length);            // one DATA frame each, as a model server's flushes
        }
        stream.finish();
      } catch (Exception e) {
        stream.reset(ProblemCode.INTERNAL, String.valueOf(e));
      }
    }).start("stand-in");
    Banner.skipTo(client.getInputStream(), 1024);
    MuxSession session = MuxSession.client(client.getInputStream(), client.getOutputStream(), Limits.DEFAULT, "test").start("test");
    session.peerHello().get(5, TimeUnit.SECONDS);
    MuxStream stream = session.open(new Messages.Forward("svc", "7", "POST", "/v1/chat/completions", Map.of(), "r1"), true);
    stream.reply().get(5, TimeUnit.SECONDS);
    Await.until(Duration.ofSeconds(5), "every event to be buffered", stream::inputArrived);

    TestSubscriber.Probe<ByteString> body = MuxSource.of(stream, Duration.ZERO, MuxSource.Watch.NONE)
        .runWith(TestSink.create(system), system);
    assertEquals(all.toString(), body.requestNext().utf8String(), "all fifty events in the first element");
    body.request(1);
    body.expectComplete();
  }
}
