package sluice.agent.wire;

import java.io.BufferedOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One end of a multiplexed byte pipe (docs/protocol.md). The same class serves the gateway (client: opens streams)
 * and the agent (server: accepts them).
 *
 * <p>Threads: one reader decodes frames and dispatches them without ever blocking on a stream; one writer drains the
 * outbox and flushes when it runs empty, so concurrent streams share syscalls. Everything else only enqueues frames.
 * A misbehaving stream is reset alone; a frame that breaks the protocol ends the session with GO_AWAY.
 */
public final class MuxSession implements AutoCloseable {
  public enum Role { CLIENT, SERVER }

  /** Receives each stream the peer opens, on the reader thread: hand the work to another thread, never block. */
  @FunctionalInterface
  public interface Acceptor {
    void accept(MuxStream stream);
  }

  /**
   * PING answers waiting to be written beyond this many make the session ignore PINGs: a peer that floods PINGs and
   * never reads cannot grow our memory. Queued DATA does not count: a busy session still answers its pings.
   */
  private static final int MAX_QUEUED_PING_ANSWERS = 16;
  private static final Frame CLOSE_WRITER = new Frame(FrameType.GO_AWAY, 0, 0, null);
  /** Wakes the writer for an urgent frame; never written itself. */
  private static final Frame WAKE_WRITER = new Frame(FrameType.PING, 0, 0, null);

  private final Role role;
  private final Limits limits;
  private final String software;
  private final DataInputStream in;
  private final OutputStream out;
  private final Acceptor acceptor;
  private final Map<Integer, MuxStream> streams = new ConcurrentHashMap<>();
  private final BlockingQueue<Frame> outbox = new LinkedBlockingQueue<>();
  /**
   * PINGs and their answers, written ahead of the outbox: liveness then measures the peer's reader and the pipe, not
   * how much DATA a busy session has queued (a flood of events once delayed pings past the gateway's ping timeout).
   */
  private final Queue<Frame> urgent = new ConcurrentLinkedQueue<>();
  private final AtomicInteger queuedPingAnswers = new AtomicInteger();
  private final Map<Long, PendingPing> pings = new ConcurrentHashMap<>();
  private final AtomicLong pingIds = new AtomicLong();
  private final CompletableFuture<Messages.Hello> peerHello = new CompletableFuture<>();
  private final CompletableFuture<Messages.Problem> closed = new CompletableFuture<>();
  private final AtomicBoolean started = new AtomicBoolean();
  private final Object openLock = new Object();
  private volatile boolean goingAway;
  private int nextStreamId = 1;       // client: odd ids, increasing; guarded by openLock
  private int lastPeerStreamId;       // server: the highest id the peer opened; reader thread only

  private record PendingPing(CompletableFuture<Duration> result, long sentNanos) {}

  private MuxSession(Role role, InputStream in, OutputStream out, Limits limits, String software, Acceptor acceptor) {
    this.role = role;
    this.in = in instanceof DataInputStream d ? d : new DataInputStream(in);
    this.out = out;
    this.limits = limits;
    this.software = software;
    this.acceptor = acceptor;
  }

  /** The gateway's end. Call {@link #start()}, then await {@link #peerHello()} before opening streams. */
  public static MuxSession client(InputStream in, OutputStream out, Limits limits, String software) {
    return new MuxSession(Role.CLIENT, in, out, limits, software, s -> s.reset(ProblemCode.REFUSED, "clients accept no streams"));
  }

  /** The agent's end: every call the gateway opens goes to {@code acceptor}. */
  public static MuxSession server(InputStream in, OutputStream out, Limits limits, String software, Acceptor acceptor) {
    return new MuxSession(Role.SERVER, in, out, limits, software, acceptor);
  }

  /** Sends our HELLO and starts the reader and writer threads (daemons named after {@code name}). */
  public MuxSession start(String name) {
    if (!started.compareAndSet(false, true)) throw new IllegalStateException("already started");
    enqueue(Frame.json(FrameType.HELLO, 0, 0, WireJson.write(new Messages.Hello(
        Frame.VERSION, software, limits.maxStreams(), limits.initialWindow(), limits.maxDataFrame()))));
    Thread writer = new Thread(this::writeLoop, name + "-writer");
    Thread reader = new Thread(this::readLoop, name + "-reader");
    writer.setDaemon(true);
    reader.setDaemon(true);
    writer.start();
    reader.start();
    return this;
  }

  public CompletableFuture<Messages.Hello> peerHello() { return peerHello; }

  /** Completes with the reason once the session has ended, for whatever cause. */
  public CompletableFuture<Messages.Problem> closed() { return closed; }

  public boolean isOpen() { return !closed.isDone(); }

  /** True when neither side may open new streams here: the owner should open a fresh session for new work. */
  public boolean isGoingAway() { return goingAway || closed.isDone(); }

  public int openStreams() { return streams.size(); }

  /**
   * Opens a stream with {@code call} as its head (client only). With {@code endOfRequest} the call carries FIN and
   * no body follows. Fails fast, without queuing, when the session cannot take another stream.
   */
  public MuxStream open(Messages.Call call, boolean endOfRequest) throws IOException {
    if (role != Role.CLIENT) throw new IllegalStateException("only the client opens streams");
    Messages.Hello hello = peerHello.getNow(null);
    if (hello == null) throw new IllegalStateException("handshake not complete");
    byte[] head = WireJson.bytes(call);
    if (head.length > limits.maxHeadBytes()) throw new IllegalArgumentException("call head exceeds " + limits.maxHeadBytes() + " bytes");
    synchronized (openLock) {
      if (isGoingAway()) throw new StreamResetException(new Messages.Problem(ProblemCode.REFUSED, "session is closing"));
      if (streams.size() >= hello.maxStreams()) {
        throw new StreamResetException(
            new Messages.Problem(ProblemCode.REFUSED, "peer allows " + hello.maxStreams() + " open streams"));
      }
      if (nextStreamId > Integer.MAX_VALUE - 2) {
        goingAway = true;                              // ids exhausted: the owner must open a new session
        throw new StreamResetException(new Messages.Problem(ProblemCode.REFUSED, "stream ids exhausted"));
      }
      int id = nextStreamId;
      nextStreamId += 2;
      MuxStream stream = new MuxStream(this, id, call, hello.initialWindow(), hello.maxDataFrame(), limits.initialWindow());
      streams.put(id, stream);
      if (endOfRequest) stream.markLocalFin();
      // Enqueued under openLock so stream ids reach the wire in increasing order, as the peer requires.
      enqueue(new Frame(FrameType.HEADERS, Frame.SYN | (endOfRequest ? Frame.FIN : 0), id, head));
      return stream;
    }
  }

  /** Measures the round trip to the peer's reader thread. */
  public CompletableFuture<Duration> ping() {
    long id = pingIds.incrementAndGet();
    PendingPing p = new PendingPing(new CompletableFuture<>(), System.nanoTime());
    pings.put(id, p);
    if (closed.isDone()) {
      pings.remove(id);
      p.result().completeExceptionally(new IOException("session closed"));
    } else {
      enqueueUrgent(Frame.ping(false, id));
    }
    return p.result();
  }

  /** Announces an orderly shutdown: no new streams; open ones may finish. */
  public void goAway(ProblemCode code, String message) {
    goingAway = true;
    enqueue(Frame.json(FrameType.GO_AWAY, 0, 0, WireJson.write(new Messages.Problem(code, message))));
  }

  /** Ends the session now: open streams fail with {@code session_closed}; queued frames are still flushed. */
  @Override public void close() {
    if (!closed.isDone()) goAway(ProblemCode.NORMAL, "closing");
    terminate(new Messages.Problem(ProblemCode.NORMAL, "closed locally"));
  }

  // ---------------------------------------------------------------- writer

  void enqueue(Frame frame) {
    outbox.add(frame);
  }

  private void enqueueUrgent(Frame frame) {
    urgent.add(frame);
    outbox.add(WAKE_WRITER);
  }

  private void writeLoop() {
    try (OutputStream buffered = new BufferedOutputStream(out, 64 * 1024)) {
      boolean helloWritten = false;                // HELLO, the first frame queued, goes before any urgent one
      while (true) {
        Frame f = outbox.take();
        for (Frame u; helloWritten && (u = urgent.poll()) != null; ) {
          FrameCodec.write(buffered, u);
          if (u.has(Frame.ACK)) queuedPingAnswers.decrementAndGet();
        }
        if (f == CLOSE_WRITER) break;
        if (f != WAKE_WRITER) {
          FrameCodec.write(buffered, f);
          helloWritten = true;
        }
        if (outbox.isEmpty()) buffered.flush();   // batch frames that queued up meanwhile into one write
      }
      buffered.flush();
    } catch (IOException e) {
      terminate(new Messages.Problem(ProblemCode.IO_ERROR, "write failed: " + e.getMessage()));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---------------------------------------------------------------- reader

  private void readLoop() {
    Messages.Problem reason;
    try {
      while (true) {
        Frame f = FrameCodec.read(in, limits);
        if (f == null) {
          reason = new Messages.Problem(ProblemCode.EOF, "peer closed the pipe");
          break;
        }
        dispatch(f);
      }
    } catch (ProtocolException e) {
      reason = new Messages.Problem(ProblemCode.PROTOCOL_ERROR, e.getMessage());
      goAway(ProblemCode.PROTOCOL_ERROR, e.getMessage());
    } catch (EOFException e) {
      reason = new Messages.Problem(ProblemCode.EOF, "pipe ended inside a frame");
    } catch (IOException e) {
      reason = new Messages.Problem(ProblemCode.IO_ERROR, "read failed: " + e.getMessage());
    } catch (RuntimeException e) {
      reason = new Messages.Problem(ProblemCode.INTERNAL, String.valueOf(e));
      goAway(ProblemCode.INTERNAL, "internal error");
    }
    terminate(reason);
  }

  private void dispatch(Frame f) throws ProtocolException {
    if (!peerHello.isDone() && f.type() != FrameType.HELLO) throw new ProtocolException("expected HELLO, got " + f.type());
    switch (f.type()) {
      case HELLO -> onHello(f);
      case PING -> onPing(f);
      case GO_AWAY -> goingAway = true;
      case HEADERS -> onHeaders(f);
      case DATA -> onData(f);
      case WINDOW_UPDATE -> onWindowUpdate(f);
      case RESET -> onReset(f);
    }
  }

  private void onHello(Frame f) throws ProtocolException {
    if (peerHello.isDone()) throw new ProtocolException("HELLO sent twice");
    Messages.Hello hello;
    try {
      hello = WireJson.read(f.payload(), Messages.Hello.class);
    } catch (IllegalArgumentException e) {
      throw new ProtocolException("malformed HELLO: " + e.getMessage());
    }
    if (hello.protocol() != Frame.VERSION) throw new ProtocolException("unsupported protocol version " + hello.protocol());
    if (hello.maxStreams() < 1 || hello.initialWindow() < 1024 || hello.maxDataFrame() < 1024) {
      throw new ProtocolException("HELLO limits out of range");
    }
    peerHello.complete(hello);
  }

  private void onPing(Frame f) {
    long opaque = f.number();
    if (f.has(Frame.ACK)) {
      PendingPing p = pings.remove(opaque);
      if (p != null) p.result().complete(Duration.ofNanos(System.nanoTime() - p.sentNanos()));
    } else if (queuedPingAnswers.incrementAndGet() <= MAX_QUEUED_PING_ANSWERS) {
      enqueueUrgent(Frame.ping(true, opaque));
    } else {
      queuedPingAnswers.decrementAndGet();
    }
  }

  private void onHeaders(Frame f) throws ProtocolException {
    int id = f.streamId();
    if (f.has(Frame.SYN)) {
      if (role != Role.SERVER) throw new ProtocolException("the agent opened stream " + id);
      if ((id & 1) == 0 || id <= lastPeerStreamId) throw new ProtocolException("stream id " + id + " is not a new odd id");
      lastPeerStreamId = id;
      if (goingAway || streams.size() >= limits.maxStreams()) {
        sendReset(id, ProblemCode.REFUSED, goingAway ? "session is closing" : "too many open streams");
        return;
      }
      Messages.Call call;
      try {
        call = WireJson.read(f.payload(), Messages.Call.class);
      } catch (IllegalArgumentException e) {
        sendReset(id, ProblemCode.BAD_REQUEST, e.getMessage());
        return;
      }
      Messages.Hello hello = peerHello.join();
      MuxStream stream = new MuxStream(this, id, call, hello.initialWindow(), hello.maxDataFrame(), limits.initialWindow());
      if (f.has(Frame.FIN)) stream.markRemoteFin();
      streams.put(id, stream);
      try {
        acceptor.accept(stream);
      } catch (RuntimeException e) {
        stream.reset(ProblemCode.INTERNAL, "could not start the call");
      }
    } else if (f.has(Frame.ACK)) {
      if (role != Role.CLIENT) throw new ProtocolException("the gateway sent a reply on stream " + id);
      MuxStream stream = known(id);
      if (stream == null) return;
      if (stream.reply().isDone()) {
        stream.reset(ProblemCode.STREAM_CLOSED, "second reply head");
        return;
      }
      Messages.Reply reply;
      try {
        reply = WireJson.read(f.payload(), Messages.Reply.class);
      } catch (IllegalArgumentException e) {
        stream.reset(ProblemCode.BAD_REQUEST, "malformed reply: " + e.getMessage());
        return;
      }
      stream.onReply(reply, f.has(Frame.FIN));
    } else {
      throw new ProtocolException("HEADERS without SYN or ACK on stream " + id);
    }
  }

  private void onData(Frame f) throws ProtocolException {
    MuxStream stream = known(f.streamId());
    if (stream == null) return;
    if (role == Role.CLIENT && !stream.reply().isDone()) {
      stream.reset(ProblemCode.STREAM_CLOSED, "DATA before the reply head");
      return;
    }
    ProblemCode violation = stream.onData(f.payload(), f.has(Frame.FIN));
    if (violation != null) {
      stream.reset(violation, violation == ProblemCode.FLOW_CONTROL ? "sent beyond credit" : "DATA after FIN");
    }
  }

  private void onWindowUpdate(Frame f) throws ProtocolException {
    long delta = f.number();
    if (delta == 0 || delta > Integer.MAX_VALUE) throw new ProtocolException("WINDOW_UPDATE delta out of range: " + delta);
    MuxStream stream = known(f.streamId());
    if (stream != null) stream.onWindowUpdate(delta);
  }

  private void onReset(Frame f) throws ProtocolException {
    MuxStream stream = known(f.streamId());
    if (stream == null) return;
    Messages.Problem problem;
    try {
      problem = WireJson.read(f.payload(), Messages.Problem.class);
    } catch (IllegalArgumentException e) {
      problem = new Messages.Problem(ProblemCode.INTERNAL, "peer reset the stream");
    }
    stream.abort(problem);
  }

  /**
   * The open stream with this id, or null for a stream that has already closed (late frames after a RESET are
   * normal). An id the peer could not yet have used is a protocol error.
   */
  private MuxStream known(int id) throws ProtocolException {
    MuxStream stream = streams.get(id);
    if (stream != null) return stream;
    boolean issued = role == Role.CLIENT ? (id & 1) == 1 && id < currentNextId() : id <= lastPeerStreamId;
    if (!issued) throw new ProtocolException("frame for stream " + id + " that was never opened");
    return null;
  }

  private int currentNextId() {
    synchronized (openLock) { return nextStreamId; }
  }

  private void sendReset(int id, ProblemCode code, String message) {
    enqueue(Frame.json(FrameType.RESET, 0, id, WireJson.write(new Messages.Problem(code, message))));
  }

  void forget(int id) {
    streams.remove(id);
  }

  private void terminate(Messages.Problem reason) {
    if (!closed.complete(reason)) return;
    goingAway = true;
    Messages.Problem streamProblem =
        new Messages.Problem(ProblemCode.SESSION_CLOSED, reason.code().wire() + ": " + reason.message());
    for (MuxStream s : List.copyOf(streams.values())) s.abort(streamProblem);
    for (PendingPing p : List.copyOf(pings.values())) p.result().completeExceptionally(new IOException("session closed"));
    pings.clear();
    peerHello.completeExceptionally(new IOException("session closed before the handshake: " + reason.message()));
    enqueue(CLOSE_WRITER);
  }
}
