package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.FilterInputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.testkit.TestSubscriber;
import org.apache.pekko.stream.testkit.javadsl.TestSink;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.WireJson;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.cluster.UpstreamResponse;
import sluice.core.tunnel.TunnelObserver;
import sluice.core.tunnel.TunnelSample;

/**
 * The gateway's side of an agent that stops answering. The peer is a protocol-level stand-in for the agent whose pipes
 * can be frozen as SIGSTOP freezes a process: the connection stays, but nothing is read or written (the real agent
 * frozen with SIGSTOP is http-edge's FrozenAgentIT).
 */
@Timeout(60)
class UnresponsiveAgentTest {
  static final String NODE = "login1";
  static ActorSystem<Void> system;

  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final List<AutoCloseable> open = new ArrayList<>();
  private final Gate gate = new Gate();
  private final CountDownLatch release = new CountDownLatch(1);    // lets the stand-in's held calls go on

  @BeforeAll static void start() { system = ActorSystem.create(Behaviors.empty(), "unresponsive-agent-test"); }

  @AfterAll static void stop() { system.terminate(); }

  @AfterEach void close() throws Exception {
    gate.thaw();
    release.countDown();
    for (AutoCloseable c : open) c.close();
    pool.shutdownNow();
  }

  /** Blocks the stand-in's reads and writes while frozen. */
  static final class Gate {
    private boolean frozen;

    synchronized void freeze() { frozen = true; }

    synchronized void thaw() {
      frozen = false;
      notifyAll();
    }

    synchronized void pass() throws InterruptedIOException {
      while (frozen) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException();
        }
      }
    }
  }

  private AgentConnection agent() throws IOException {
    SocketPair pair = SocketPair.open(open);
    Socket client = pair.client();
    Socket server = pair.server();
    InputStream in = new FilterInputStream(server.getInputStream()) {
      @Override public int read() throws IOException {
        int b = super.read();
        gate.pass();                                 // what arrived while frozen is read only after the thaw
        return b;
      }

      @Override public int read(byte[] b, int off, int len) throws IOException {
        int n = super.read(b, off, len);
        gate.pass();
        return n;
      }
    };
    OutputStream out = new FilterOutputStream(server.getOutputStream()) {
      @Override public void write(int b) throws IOException {
        gate.pass();
        super.write(b);
      }

      @Override public void write(byte[] b, int off, int len) throws IOException {
        gate.pass();
        this.out.write(b, off, len);
      }
    };
    Banner.write(server.getOutputStream());
    MuxSession.server(in, out, Limits.DEFAULT, "stand-in", stream -> pool.submit(() -> serve(stream))).start("stand-in");
    return AgentConnection.handshake(NODE, client.getInputStream(), client.getOutputStream(), Limits.DEFAULT,
        Duration.ofSeconds(10), () -> { });
  }

  /** Probes pass; forwards by path: /hang holds its head, /stream sends "first" and holds the rest, /silent holds all. */
  private void serve(MuxStream stream) {
    try {
      if (stream.call() instanceof Messages.Probe) {
        stream.sendReply(Messages.Reply.ok(WireJson.tree(new Messages.ProbeResult(true, 200, "ok", false))), true);
        return;
      }
      String path = ((Messages.Forward) stream.call()).path();
      if (path.equals("/hang")) release.await();
      stream.sendReply(new Messages.Reply(200, Map.of("content-type", "text/event-stream"), null, null), false);
      if (path.equals("/stream")) stream.write("first".getBytes(StandardCharsets.UTF_8), 0, 5);
      release.await();
      stream.write("rest".getBytes(StandardCharsets.UTF_8), 0, 4);
      stream.finish();
    } catch (IOException | InterruptedException e) {
      stream.reset(ProblemCode.INTERNAL, String.valueOf(e));
    }
  }

  private BridgeClusterGateway gateway(Duration ping, Duration silence) throws IOException {
    AgentConnection conn = agent();
    AgentLink link = new AgentLink("c", observer -> conn, pool, Duration.ofMillis(100), Duration.ofSeconds(1),
        Duration.ofSeconds(5), TunnelObserver.NONE);
    BridgeClusterGateway g = new BridgeClusterGateway("c", "dep", link, ForkJoinPool.commonPool(),
        new BridgeClusterGateway.Timeouts(Duration.ofSeconds(10), ping, silence), Duration.ZERO);
    open.add(g);
    return g;
  }

  private static CompletableFuture<UpstreamResponse> forward(BridgeClusterGateway g, String path) {
    return g.forward(new UpstreamRequest("svc", "7", "POST", path, Map.of(), ByteString.emptyByteString(), "req"))
        .toCompletableFuture();
  }

  private static CompletableFuture<Optional<TunnelSample>> sample(BridgeClusterGateway g) {
    return g.sampler().sample(NODE).toCompletableFuture();
  }

  private static boolean probe(BridgeClusterGateway g) throws Exception {
    return g.probe("svc", "7").toCompletableFuture().get(5, TimeUnit.SECONDS).ready();
  }

  /** The cluster failure a stage failed with. */
  private static ClusterFailure failure(CompletableFuture<?> f) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> f.get(5, TimeUnit.SECONDS));
    return ClusterException.in(e).orElseThrow(() -> new AssertionError("not a cluster failure", e)).reason();
  }

  private static Duration since(long nanos) { return Duration.ofNanos(System.nanoTime() - nanos); }

  @Test void aFrozenAgentIsMarkedUnresponsiveFailsWhatWaitsAndIsRefusedAtOnceUntilItAnswersAgain() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofMillis(300), Duration.ZERO);
    assertTrue(probe(g));
    assertTrue(sample(g).get(5, TimeUnit.SECONDS).isPresent(), "a round trip while the agent answers");
    UpstreamResponse streaming = forward(g, "/stream").get(5, TimeUnit.SECONDS);
    CompletableFuture<String> first = new CompletableFuture<>();
    CompletableFuture<?> body = streaming.body().map(b -> first.complete(b.utf8String())).runWith(Sink.ignore(), system)
        .toCompletableFuture();
    assertEquals("first", first.get(5, TimeUnit.SECONDS));
    CompletableFuture<UpstreamResponse> waitingForItsHead = forward(g, "/hang");

    gate.freeze();
    long frozenAt = System.nanoTime();
    assertEquals(ClusterFailure.TUNNEL_UNRESPONSIVE, failure(sample(g)), "the ping goes unanswered");
    assertTrue(since(frozenAt).compareTo(Duration.ofMillis(300)) >= 0, "not before the ping timeout");
    assertEquals(ClusterFailure.TUNNEL_UNRESPONSIVE, failure(waitingForItsHead), "a call waiting for its head fails");
    assertEquals(ClusterFailure.TUNNEL_UNRESPONSIVE, failure(body), "an open body fails");

    long asked = System.nanoTime();
    assertEquals(ClusterFailure.TUNNEL_UNRESPONSIVE, failure(g.probe("svc", "7").toCompletableFuture()));
    assertEquals(ClusterFailure.TUNNEL_UNRESPONSIVE, failure(forward(g, "/stream")));
    assertTrue(since(asked).compareTo(Duration.ofSeconds(2)) < 0, "refused at once, not after the 10 s control timeout: "
        + since(asked));

    gate.thaw();
    Await.ignoring(ExecutionException.class).until(Duration.ofSeconds(5), "the agent to answer a ping again",
        () -> sample(g).get(5, TimeUnit.SECONDS).isPresent());
    assertTrue(probe(g), "calls go through again on the same connection");
  }

  @Test void aBodySilentForTheBoundFailsWhileTheAgentStillAnswersPings() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofSeconds(10), Duration.ofMillis(300));
    UpstreamResponse silent = forward(g, "/silent").get(5, TimeUnit.SECONDS);
    long start = System.nanoTime();
    CompletableFuture<?> body = silent.body().runWith(Sink.ignore(), system).toCompletableFuture();
    assertEquals(ClusterFailure.UPSTREAM_TIMEOUT, failure(body));
    assertTrue(since(start).compareTo(Duration.ofMillis(300)) >= 0, "not before the silence bound");
    assertTrue(sample(g).get(5, TimeUnit.SECONDS).isPresent(), "the agent itself still answers");
  }

  @Test void timeTheClientDoesNotReadIsNotSilence() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofSeconds(10), Duration.ofMillis(300));
    UpstreamResponse r = forward(g, "/stream").get(5, TimeUnit.SECONDS);
    TestSubscriber.Probe<ByteString> client = r.body().runWith(TestSink.create(system), system);
    client.ensureSubscription();
    client.expectNoMessage(Duration.ofSeconds(1));          // three silence bounds without asking for a byte: no error
    assertEquals("first", client.requestNext().utf8String());
    release.countDown();
    assertEquals("rest", client.requestNext().utf8String());
    client.request(1);
    client.expectComplete();
  }
}
