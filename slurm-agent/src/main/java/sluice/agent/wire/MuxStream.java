package sluice.agent.wire;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.concurrent.CompletableFuture;

/**
 * One logical stream of a {@link MuxSession}: a call head, an optional reply head, and body bytes in both directions.
 *
 * <p>Inbound DATA is buffered up to the credit this side granted, never more; reading it grants credit back, which is
 * the only way the peer may send more. Outbound bytes are queued and sent as the peer's credit allows. Consumers either
 * block ({@link #inputStream()}, {@link #write}) or register a {@link #setListener listener} and poll (the Pekko
 * stages in hpc-bridge). All state is guarded by the stream's monitor; frames are only ever enqueued, never written,
 * under it.
 */
public final class MuxStream {
  private final MuxSession session;
  private final int id;
  private final Messages.Call call;
  private final int maxFrame;
  private final int window;
  private final CompletableFuture<Messages.Reply> reply = new CompletableFuture<>();

  // inbound
  private final ArrayDeque<byte[]> inbound = new ArrayDeque<>();
  private long recvCredit;
  private long consumedSinceGrant;
  private boolean remoteFin;
  // outbound
  private final ArrayDeque<byte[]> pending = new ArrayDeque<>();
  private long pendingBytes;
  private long sendCredit;
  private boolean finRequested;
  private boolean finSent;
  private boolean replySent;
  // either
  private Messages.Problem reset;
  private boolean removed;
  private Runnable listener;

  MuxStream(MuxSession session, int id, Messages.Call call, int peerWindow, int peerMaxFrame, int ownWindow) {
    this.session = session;
    this.id = id;
    this.call = call;
    this.sendCredit = peerWindow;
    this.maxFrame = peerMaxFrame;
    this.window = ownWindow;
    this.recvCredit = ownWindow;
  }

  public int id() { return id; }

  /** The call that opened this stream. */
  public Messages.Call call() { return call; }

  /** Client side: the agent's reply head. Fails with {@link StreamResetException} if the stream ends first. */
  public CompletableFuture<Messages.Reply> reply() { return reply; }

  /**
   * Registers the one callback run (on the session's reader thread, or the thread that reset the stream) whenever
   * data, end of input, a reset or new send credit arrives. It must not block.
   */
  public void setListener(Runnable listener) {
    synchronized (this) { this.listener = listener; }
    listener.run();   // state may have changed before registration
  }

  // ---------------------------------------------------------------- inbound

  /** Next chunk of inbound body bytes, or null when none is buffered now. Grants credit back as bytes are taken. */
  public byte[] poll() throws StreamResetException {
    synchronized (this) {
      if (reset != null) throw new StreamResetException(reset);
      byte[] chunk = inbound.poll();
      if (chunk == null) return null;
      consumedSinceGrant += chunk.length;
      // Grant in batches of a quarter window: few WINDOW_UPDATEs, and the sender never waits on a drained receiver.
      if (!remoteFin && consumedSinceGrant >= window / 4) {
        recvCredit += consumedSinceGrant;
        session.enqueue(Frame.windowUpdate(id, (int) consumedSinceGrant));
        consumedSinceGrant = 0;
      }
      return chunk;
    }
  }

  /** True once the peer has sent FIN and every inbound byte has been polled. */
  public synchronized boolean isInputFinished() throws StreamResetException {
    if (reset != null) throw new StreamResetException(reset);
    return remoteFin && inbound.isEmpty();
  }

  /** True once the peer has sent FIN, whether or not every byte has been polled. */
  public synchronized boolean inputArrived() { return remoteFin; }

  /** The stream's reset reason, or null while it is healthy. */
  public synchronized Messages.Problem resetReason() { return reset; }

  /** Blocking view of the inbound bytes. Closing it before the end resets the stream as cancelled. */
  public InputStream inputStream() {
    return new InputStream() {
      private byte[] current;
      private int pos;

      @Override public int read() throws IOException {
        byte[] one = new byte[1];
        return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
      }

      @Override public int read(byte[] b, int off, int len) throws IOException {
        if (len == 0) return 0;
        if (current == null || pos == current.length) {
          current = awaitChunk();
          pos = 0;
          if (current == null) return -1;
        }
        int n = Math.min(len, current.length - pos);
        System.arraycopy(current, pos, b, off, n);
        pos += n;
        return n;
      }

      @Override public void close() {
        boolean finished;
        synchronized (MuxStream.this) { finished = remoteFin && inbound.isEmpty(); }
        if (!finished) MuxStream.this.reset(ProblemCode.CANCELLED, "reader closed the stream");
      }
    };
  }

  private byte[] awaitChunk() throws IOException {
    synchronized (this) {
      while (true) {
        byte[] chunk = poll();
        if (chunk != null) return chunk;
        if (remoteFin) return null;
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while reading stream " + id);
        }
      }
    }
  }

  // ---------------------------------------------------------------- outbound

  /** Queues bytes for sending without blocking; they go out as credit allows. */
  public void offer(byte[] bytes, int off, int len) throws StreamResetException {
    synchronized (this) {
      if (reset != null) throw new StreamResetException(reset);
      if (finRequested) throw new IllegalStateException("stream " + id + " output already finished");
      for (int at = off; at < off + len; at += maxFrame) {
        pending.add(Arrays.copyOfRange(bytes, at, Math.min(off + len, at + maxFrame)));
      }
      pendingBytes += len;
      pump();
    }
  }

  /**
   * Queues {@code bytes} for sending, taking the array itself (the caller must not touch it again) when it fits one
   * frame: a stream's response chunks are copied once, off the HTTP client's buffers, and not again here.
   */
  public void offerOwned(byte[] bytes) throws StreamResetException {
    if (bytes.length > maxFrame) {
      offer(bytes, 0, bytes.length);
      return;
    }
    synchronized (this) {
      if (reset != null) throw new StreamResetException(reset);
      if (finRequested) throw new IllegalStateException("stream " + id + " output already finished");
      pending.add(bytes);
      pendingBytes += bytes.length;
      pump();
    }
  }

  /** Sends bytes, blocking until the peer's credit has taken all of them (backpressure for blocking writers). */
  public void write(byte[] bytes, int off, int len) throws IOException {
    offer(bytes, off, len);
    synchronized (this) {
      while (pendingBytes > 0 && reset == null) {
        try {
          wait();
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while writing stream " + id);
        }
      }
      if (reset != null) throw new StreamResetException(reset);
    }
  }

  /** Bytes queued but not yet sent for lack of credit. */
  public synchronized long pendingBytes() { return pendingBytes; }

  /** Ends this side's output: FIN goes out after the queued bytes. Idempotent. */
  public void finish() {
    synchronized (this) {
      if (reset != null || finRequested) return;
      finRequested = true;
      pump();
    }
    closeIfDone();
  }

  /** Blocking view of the outbound direction; close() sends FIN. */
  public OutputStream outputStream() {
    return new OutputStream() {
      @Override public void write(int b) throws IOException { MuxStream.this.write(new byte[] {(byte) b}, 0, 1); }

      @Override public void write(byte[] b, int off, int len) throws IOException { MuxStream.this.write(b, off, len); }

      @Override public void close() { finish(); }
    };
  }

  /** Server side: sends the reply head; with {@code fin} the reply has no body. Must precede any body byte. */
  public void sendReply(Messages.Reply head, boolean fin) throws StreamResetException {
    synchronized (this) {
      if (reset != null) throw new StreamResetException(reset);
      if (replySent) throw new IllegalStateException("reply already sent on stream " + id);
      replySent = true;
      session.enqueue(Frame.json(FrameType.HEADERS, Frame.ACK | (fin ? Frame.FIN : 0), id, WireJson.write(head)));
      if (fin) {
        finRequested = true;
        finSent = true;
      }
    }
    closeIfDone();
  }

  /** Aborts the stream in both directions and tells the peer. Idempotent; a no-op once the stream has closed. */
  public void reset(ProblemCode code, String message) {
    Messages.Problem problem = new Messages.Problem(code, message);
    synchronized (this) {
      if (reset != null || removed) return;
      session.enqueue(Frame.json(FrameType.RESET, 0, id, WireJson.write(problem)));
    }
    abort(problem);
  }

  // ---------------------------------------------------------------- called by the session's reader

  /** Returns a problem code when the frame violates the stream's state, else null. */
  ProblemCode onData(byte[] payload, boolean fin) {
    Runnable l;
    synchronized (this) {
      if (reset != null) return null;                              // late frame after a reset: drop it
      if (remoteFin) return ProblemCode.STREAM_CLOSED;
      if (payload.length > recvCredit) return ProblemCode.FLOW_CONTROL;
      recvCredit -= payload.length;
      if (payload.length > 0) inbound.add(payload);
      if (fin) remoteFin = true;
      notifyAll();
      l = listener;
    }
    if (l != null) l.run();
    if (fin) closeIfDone();
    return null;
  }

  void onWindowUpdate(long delta) {
    Runnable l;
    synchronized (this) {
      if (reset != null) return;
      sendCredit += delta;
      pump();
      notifyAll();
      l = listener;
    }
    if (l != null) l.run();
    closeIfDone();
  }

  void onReply(Messages.Reply head, boolean fin) {
    synchronized (this) {
      if (fin) remoteFin = true;
      notifyAll();
    }
    reply.complete(head);
    Runnable l;
    synchronized (this) { l = listener; }
    if (l != null) l.run();
    if (fin) closeIfDone();
  }

  /** The call arrived with FIN: there is no request body. */
  synchronized void markRemoteFin() { remoteFin = true; }

  /** The call went out with FIN: there is no request body to send. */
  synchronized void markLocalFin() {
    finRequested = true;
    finSent = true;
  }

  /** Ends the stream locally without sending anything (peer RESET, session end, or after sending our own RESET). */
  void abort(Messages.Problem problem) {
    Runnable l;
    synchronized (this) {
      if (reset != null) return;
      reset = problem;
      inbound.clear();
      pending.clear();
      pendingBytes = 0;
      notifyAll();
      l = listener;
    }
    reply.completeExceptionally(new StreamResetException(problem));
    markRemoved();
    if (l != null) l.run();
  }

  // ---------------------------------------------------------------- internals

  /** Moves queued bytes into DATA frames while credit lasts; FIN rides on the last frame. Caller holds the lock. */
  private void pump() {
    while (sendCredit > 0 && !pending.isEmpty()) {
      byte[] chunk = pending.poll();
      if (chunk.length > sendCredit) {
        int n = (int) sendCredit;
        pending.addFirst(Arrays.copyOfRange(chunk, n, chunk.length));
        chunk = Arrays.copyOf(chunk, n);
      }
      sendCredit -= chunk.length;
      pendingBytes -= chunk.length;
      boolean last = finRequested && pending.isEmpty();
      session.enqueue(Frame.data(id, chunk, last));
      if (last) finSent = true;
    }
    if (finRequested && !finSent && pending.isEmpty()) {
      session.enqueue(Frame.data(id, new byte[0], true));
      finSent = true;
    }
    if (pendingBytes == 0) notifyAll();
  }

  /** Both directions have ended: the session forgets the stream, though buffered input stays readable. */
  private void closeIfDone() {
    boolean done;
    synchronized (this) { done = finSent && remoteFin && reset == null; }
    if (done) markRemoved();
  }

  private void markRemoved() {
    synchronized (this) {
      if (removed) return;
      removed = true;
    }
    session.forget(id);
  }
}
