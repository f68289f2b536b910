package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/** Client and server sessions over a real loopback socket; the server behaviours are small test acceptors. */
@Timeout(30)
class MuxSessionTest {
  private static final Limits SMALL = new Limits(4096, 4096, 8, 16 * 1024, 1024);
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach void tearDown() throws Exception {
    for (AutoCloseable c : closeables) c.close();
    pool.shutdownNow();
  }

  private static Messages.Forward forward(String path) {
    return new Messages.Forward("svc", "1", "POST", path, Map.of("content-type", "application/json"), "req-1");
  }

  /** Server that runs {@code handler} for each stream on its own thread. */
  private MuxSession client(Limits limits, Consumer<MuxStream> handler) throws Exception {
    SocketPair pair = SocketPair.open();
    closeables.add(pair);
    MuxSession server = MuxSession.server(pair.b().getInputStream(), pair.b().getOutputStream(), limits, "test-agent",
        stream -> pool.submit(() -> handler.accept(stream))).start("server");
    MuxSession client = MuxSession.client(new BufferedInputStream(pair.a().getInputStream()), pair.a().getOutputStream(),
        limits, "test-client").start("client");
    closeables.add(client);
    closeables.add(server);
    client.peerHello().get(5, TimeUnit.SECONDS);
    return client;
  }

  /** Echoes the request body back, upper-cased path in a header, like a tiny model server. */
  private static void echo(MuxStream stream) {
    try {
      byte[] body = stream.inputStream().readAllBytes();
      stream.sendReply(new Messages.Reply(200, Map.of("x-path", ((Messages.Forward) stream.call()).path()), null, null), false);
      try (OutputStream out = stream.outputStream()) {
        out.write(body);
      }
    } catch (IOException e) {
      stream.reset(ProblemCode.INTERNAL, e.getMessage());
    }
  }

  private static byte[] send(MuxSession client, String path, byte[] body) throws Exception {
    MuxStream s = client.open(forward(path), false);
    s.write(body, 0, body.length);
    s.finish();
    Messages.Reply reply = s.reply().get(10, TimeUnit.SECONDS);
    assertEquals(200, reply.status());
    assertEquals(path, reply.headers().get("x-path"));
    return s.inputStream().readAllBytes();
  }

  @Test void requestAndResponseBodiesRoundTrip() throws Exception {
    MuxSession client = client(Limits.DEFAULT, MuxSessionTest::echo);
    byte[] body = "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8);
    assertArrayEquals(body, send(client, "/v1/chat/completions", body));
  }

  @Test void bodiesLargerThanTheWindowFlowThroughCredit() throws Exception {
    MuxSession client = client(SMALL, MuxSessionTest::echo);
    byte[] body = new byte[1 << 20];
    new Random(1).nextBytes(body);
    assertArrayEquals(body, send(client, "/big", body));
  }

  @Test void interleavedStreamsKeepTheirOwnBytes() throws Exception {
    MuxSession client = client(new Limits(4096, 4096, 64, 16 * 1024, 1024), MuxSessionTest::echo);
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (int i = 0; i < 48; i++) {
      int n = i;
      all.add(CompletableFuture.runAsync(() -> {
        byte[] body = new byte[1000 + n * 977];
        new Random(n).nextBytes(body);
        try {
          assertArrayEquals(body, send(client, "/s" + n, body));
        } catch (Exception e) {
          throw new RuntimeException(e);
        }
      }, pool));
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).get(20, TimeUnit.SECONDS);
    // The last stream is dropped from the table when its closing frames have been exchanged, just after its reader
    // saw the end: give that a moment rather than race it.
    Await.until(Duration.ofSeconds(2), "finished streams to be forgotten", () -> client.openStreams() == 0);
    assertEquals(0, client.openStreams(), "finished streams are forgotten");
  }

  @Test void aStalledConsumerBlocksOnlyItsOwnStream() throws Exception {
    byte[] big = new byte[512 * 1024];           // 32 windows of 16 KiB
    new Random(7).nextBytes(big);
    CountDownLatch slowWriterBlocked = new CountDownLatch(1);
    MuxSession client = client(SMALL, stream -> {
      try {
        String path = ((Messages.Forward) stream.call()).path();
        stream.inputStream().readAllBytes();
        stream.sendReply(new Messages.Reply(200, Map.of("x-path", path), null, null), false);
        if (path.equals("/slow")) {
          stream.offer(big, 0, big.length);
          if (stream.pendingBytes() > 0) slowWriterBlocked.countDown();   // credit ran out: the rest waits
          stream.write(new byte[0], 0, 0);
          stream.finish();
        } else {
          stream.write("fast".getBytes(StandardCharsets.UTF_8), 0, 4);
          stream.finish();
        }
      } catch (IOException e) {
        stream.reset(ProblemCode.INTERNAL, e.getMessage());
      }
    });
    MuxStream slow = client.open(forward("/slow"), true);
    slow.reply().get(5, TimeUnit.SECONDS);
    assertTrue(slowWriterBlocked.await(5, TimeUnit.SECONDS), "the slow stream's writer is out of credit");
    // Nobody reads /slow; another stream on the same session still completes.
    assertArrayEquals("fast".getBytes(StandardCharsets.UTF_8), send(client, "/fast", new byte[0]));
    assertArrayEquals(big, slow.inputStream().readAllBytes(), "reading resumes the stalled stream intact");
  }

  @Test void resetByTheClientReachesTheServerAndFreesTheStream() throws Exception {
    CompletableFuture<Throwable> serverSaw = new CompletableFuture<>();
    MuxSession client = client(SMALL, stream -> {
      try {
        stream.sendReply(new Messages.Reply(200, Map.of(), null, null), false);
        byte[] chunk = new byte[1024];
        while (true) stream.write(chunk, 0, chunk.length);   // an endless stream, like a long generation
      } catch (IOException e) {
        serverSaw.complete(e);
      }
    });
    MuxStream s = client.open(forward("/endless"), true);
    s.reply().get(5, TimeUnit.SECONDS);
    InputStream in = s.inputStream();
    assertEquals(1024, in.readNBytes(1024).length);
    in.close();                                           // the HTTP client went away
    Throwable t = serverSaw.get(5, TimeUnit.SECONDS);
    assertInstanceOf(StreamResetException.class, t);
    assertEquals(ProblemCode.CANCELLED, ((StreamResetException) t).code());
    assertEquals(0, client.openStreams());
  }

  @Test void resetByTheServerFailsTheClientsReply() throws Exception {
    MuxSession client = client(SMALL, stream -> stream.reset(ProblemCode.UPSTREAM_ERROR, "model server refused"));
    MuxStream s = client.open(forward("/x"), true);
    ExecutionException e = assertThrows(ExecutionException.class, () -> s.reply().get(5, TimeUnit.SECONDS));
    assertEquals(ProblemCode.UPSTREAM_ERROR, ((StreamResetException) e.getCause()).code());
    assertThrows(StreamResetException.class, () -> s.inputStream().read());
  }

  @Test void streamsBeyondThePeersLimitAreRefused() throws Exception {
    CountDownLatch release = new CountDownLatch(1);
    MuxSession client = client(SMALL, stream -> {
      try {
        release.await();
        echo(stream);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    List<MuxStream> open = new ArrayList<>();
    for (int i = 0; i < SMALL.maxStreams(); i++) open.add(client.open(forward("/" + i), true));
    StreamResetException e = assertThrows(StreamResetException.class, () -> client.open(forward("/one-too-many"), true));
    assertEquals(ProblemCode.REFUSED, e.code());
    release.countDown();
    for (MuxStream s : open) assertEquals(200, s.reply().get(5, TimeUnit.SECONDS).status());
  }

  @Test void endOfThePipeFailsOpenStreamsWithSessionClosed() throws Exception {
    SocketPair pair = SocketPair.open();
    closeables.add(pair);
    CountDownLatch accepted = new CountDownLatch(1);
    MuxSession server = MuxSession.server(pair.b().getInputStream(), pair.b().getOutputStream(), SMALL, "agent",
        s -> accepted.countDown()).start("server");
    MuxSession client = MuxSession.client(new BufferedInputStream(pair.a().getInputStream()), pair.a().getOutputStream(), SMALL, "client").start("client");
    client.peerHello().get(5, TimeUnit.SECONDS);
    MuxStream s = client.open(forward("/hang"), true);
    // Only a stream the server has taken is "open"; one arriving after its GO_AWAY is refused instead.
    assertTrue(accepted.await(5, TimeUnit.SECONDS));
    server.close();
    pair.b().close();
    ExecutionException e = assertThrows(ExecutionException.class, () -> s.reply().get(5, TimeUnit.SECONDS));
    assertEquals(ProblemCode.SESSION_CLOSED, ((StreamResetException) e.getCause()).code());
    client.closed().get(5, TimeUnit.SECONDS);
    assertFalse(client.isOpen());
    assertThrows(StreamResetException.class, () -> client.open(forward("/after"), true));
  }

  @Test void pingMeasuresARoundTrip() throws Exception {
    MuxSession client = client(SMALL, MuxSessionTest::echo);
    Duration rtt = client.ping().get(5, TimeUnit.SECONDS);
    assertTrue(!rtt.isNegative() && rtt.compareTo(Duration.ofSeconds(5)) < 0);
  }

  @Test void aSessionWithThousandsOfFramesQueuedStillAnswersPingsAtOnce() throws Exception {
    // The bench's flood of SSE events (about 60,000 a second) queued thousands of DATA frames in the agent; PINGs were
    // ignored while 1,024 frames waited, so the gateway found the agent unresponsive and cut every stream. A gateway
    // with small socket buffers that has not read yet meets 8 streams of 1,024 small DATA frames each.
    try (ServerSocket listener = new ServerSocket()) {
      listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      Socket gatewaySide = new Socket();
      gatewaySide.setReceiveBufferSize(4096);
      gatewaySide.connect(listener.getLocalSocketAddress());
      gatewaySide.setSoTimeout(10_000);                 // a PING never answered fails here, not by hanging
      Socket agentSide = listener.accept();
      agentSide.setSendBufferSize(4096);
      closeables.add(gatewaySide);
      closeables.add(agentSide);
      int streams = 8;
      CountDownLatch flooded = new CountDownLatch(streams);
      MuxSession agent = MuxSession.server(agentSide.getInputStream(), agentSide.getOutputStream(), SMALL, "agent", stream ->
          pool.submit(() -> {
            try {
              stream.sendReply(new Messages.Reply(200, Map.of(), null, null), false);
              for (int i = 0; i < 1024; i++) stream.offer(new byte[16], 0, 16);     // exactly the 16 KiB window
            } catch (StreamResetException e) {
              throw new IllegalStateException(e);
            } finally {
              flooded.countDown();
            }
          })).start("agent");
      closeables.add(agent);
      DataInputStream in = new DataInputStream(new BufferedInputStream(gatewaySide.getInputStream()));
      OutputStream out = gatewaySide.getOutputStream();
      FrameCodec.write(out, Frame.json(FrameType.HELLO, 0, 0, WireJson.write(new Messages.Hello(1, "raw", 8, 16 * 1024, 4096))));
      for (int id = 1; id < 2 * streams; id += 2) {
        FrameCodec.write(out, Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, id, WireJson.write(forward("/flood"))));
      }
      out.flush();
      assertTrue(flooded.await(10, TimeUnit.SECONDS), "the agent queued its frames");
      FrameCodec.write(out, Frame.ping(false, 7));
      out.flush();
      // Reading now: the answer comes ahead of the DATA still queued, after what the socket buffers and the writer's
      // 64 KiB buffer already hold: about 2,000 of these frames, and up to twice that when the writer was blocked in the
      // middle of writing one buffer out (4,681 seen once). A PING behind the queue would come after all 8,200.
      int before = 0;
      for (Frame f = FrameCodec.readRequired(in, Limits.DEFAULT); !(f.type() == FrameType.PING && f.number() == 7);
           f = FrameCodec.readRequired(in, Limits.DEFAULT)) {
        before++;
      }
      int all = streams * 1025;
      assertTrue(before < all * 3 / 4, "frames before the PING's answer: " + before + " of " + all);
    }
  }

  // ---------------------------------------------------------------- a raw, misbehaving client against the server

  /** The server's view: raw frames in and out, as a broken or hostile gateway would send them. */
  private final class RawPeer implements AutoCloseable {
    final SocketPair pair = SocketPair.open();
    final MuxSession server;
    final DataInputStream in;
    final OutputStream out;

    RawPeer(Consumer<MuxStream> handler) throws Exception {
      server = MuxSession.server(pair.b().getInputStream(), pair.b().getOutputStream(), SMALL, "agent",
          s -> pool.submit(() -> handler.accept(s))).start("server");
      in = new DataInputStream(new BufferedInputStream(pair.a().getInputStream()));
      out = pair.a().getOutputStream();
      closeables.add(this);
      Frame hello = FrameCodec.readRequired(in, Limits.DEFAULT);
      assertEquals(FrameType.HELLO, hello.type());
    }

    void send(Frame f) throws IOException {
      FrameCodec.write(out, f);
      out.flush();
    }

    void hello() throws IOException {
      send(Frame.json(FrameType.HELLO, 0, 0, WireJson.write(new Messages.Hello(1, "raw", 8, 16 * 1024, 4096))));
    }

    Frame next() throws IOException { return FrameCodec.readRequired(in, Limits.DEFAULT); }

    Messages.Problem nextProblem(FrameType type) throws IOException {
      Frame f = next();
      assertEquals(type, f.type(), "expected " + type + " but got " + f);
      return WireJson.read(f.payload(), Messages.Problem.class);
    }

    @Override public void close() throws IOException {
      server.close();
      pair.close();
    }
  }

  @Test void garbageInsteadOfHelloEndsTheSessionWithGoAway() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.out.write("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
    peer.out.flush();
    assertEquals(ProblemCode.PROTOCOL_ERROR, peer.nextProblem(FrameType.GO_AWAY).code());
    assertEquals(ProblemCode.PROTOCOL_ERROR, peer.server.closed().get(5, TimeUnit.SECONDS).code());
    assertEquals(-1, peer.in.read(), "the server closes its output after GO_AWAY");
  }

  @Test void truncatedFrameEndsTheSessionWithoutHanging() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.hello();
    peer.out.write(new byte[] {1, 4, 0, 1, 0, 0, 0, 1, 0, 0, 0, 50, '{'});
    peer.pair.a().shutdownOutput();
    assertEquals(ProblemCode.EOF, peer.server.closed().get(5, TimeUnit.SECONDS).code());
  }

  @Test void malformedCallHeadResetsOnlyThatStream() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.hello();
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, 1, "{\"op\":\"http\",\"service\":\"svc\",\"job\":\"1\","
        + "\"method\":\"POST\",\"path\":\"/../../etc/passwd\"}"));
    Frame reset = peer.next();
    assertEquals(FrameType.RESET, reset.type());
    assertEquals(1, reset.streamId());
    assertEquals(ProblemCode.BAD_REQUEST, WireJson.read(reset.payload(), Messages.Problem.class).code());
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, 3, "{\"op\":\"rm -rf\"}"));
    assertEquals(ProblemCode.BAD_REQUEST, peer.nextProblem(FrameType.RESET).code());
    // The session is still healthy: a valid call on the next id is answered.
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, 5, WireJson.write(forward("/ok"))));
    Frame reply = peer.next();
    assertEquals(FrameType.HEADERS, reply.type());
    assertEquals(5, reply.streamId());
    assertTrue(peer.server.isOpen());
  }

  @Test void dataBeyondCreditResetsTheStreamAndSparesTheSession() throws Exception {
    CompletableFuture<Throwable> handlerSaw = new CompletableFuture<>();
    CountDownLatch resetSeen = new CountDownLatch(1);
    RawPeer peer = new RawPeer(stream -> {
      try {
        resetSeen.await();                                   // read only after the flood was judged
        stream.inputStream().readAllBytes();
        handlerSaw.complete(null);
      } catch (Exception e) {
        handlerSaw.complete(e);
      }
    });
    peer.hello();
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN, 1, WireJson.write(forward("/flood"))));
    for (int i = 0; i < 5; i++) peer.send(Frame.data(1, new byte[4096], false));    // 20 KiB > 16 KiB window
    assertEquals(ProblemCode.FLOW_CONTROL, peer.nextProblem(FrameType.RESET).code());
    resetSeen.countDown();
    assertInstanceOf(StreamResetException.class, handlerSaw.get(5, TimeUnit.SECONDS));
    peer.send(Frame.ping(false, 99));
    Frame pong = peer.next();
    assertEquals(FrameType.PING, pong.type());
    assertEquals(99, pong.number());
  }

  @Test void aResetWithACodeOfANewerPeerFailsOnlyThatStream() throws Exception {
    CompletableFuture<Throwable> handlerSaw = new CompletableFuture<>();
    RawPeer peer = new RawPeer(stream -> {
      try {
        stream.inputStream().readAllBytes();
        handlerSaw.complete(null);
      } catch (Exception e) {
        handlerSaw.complete(e);
      }
    });
    peer.hello();
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN, 1, WireJson.write(forward("/upload"))));
    peer.send(Frame.json(FrameType.RESET, 0, 1, "{\"code\":\"quota_exceeded\",\"message\":\"over budget\"}"));
    StreamResetException e = assertInstanceOf(StreamResetException.class, handlerSaw.get(5, TimeUnit.SECONDS));
    assertEquals(ProblemCode.UNRECOGNIZED, e.code());
    assertEquals("quota_exceeded: over budget", e.problem().message(), "the raw code stays readable");
    peer.send(Frame.ping(false, 7));
    Frame pong = peer.next();
    assertEquals(FrameType.PING, pong.type(), "the session goes on");
    assertEquals(7, pong.number());
    assertTrue(peer.server.isOpen());
  }

  @Test void framesForStreamsNeverOpenedAreProtocolErrors() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.hello();
    peer.send(Frame.data(41, new byte[] {1}, false));
    assertEquals(ProblemCode.PROTOCOL_ERROR, peer.nextProblem(FrameType.GO_AWAY).code());
  }

  @Test void reusedOrEvenStreamIdsAreProtocolErrors() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.hello();
    peer.send(Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, 2, WireJson.write(new Messages.ListJobs())));
    assertEquals(ProblemCode.PROTOCOL_ERROR, peer.nextProblem(FrameType.GO_AWAY).code());
  }

  @Test void aSecondHelloIsAProtocolError() throws Exception {
    RawPeer peer = new RawPeer(MuxSessionTest::echo);
    peer.hello();
    peer.hello();
    assertEquals(ProblemCode.PROTOCOL_ERROR, peer.nextProblem(FrameType.GO_AWAY).code());
  }
}
