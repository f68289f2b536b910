package sluice.agent;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;

/**
 * The response bytes of one forward on their way into mux frames. Every frame costs a wake-up or several in the agent,
 * sshd and the gateway, whatever its size, and a model server that flushes each token (vLLM does) would cost that per
 * token. So bytes that arrive less than {@code minInterval} after the stream's previous frame wait out the rest of it,
 * joined with whatever else arrives meanwhile, and leave as one frame, at the latest when {@link #MAX_FRAME} bytes
 * are held. While less than {@link #FAST} bytes wait, the exchange reads nothing more ({@link #holding}), and the
 * model server's next tokens wait in the socket for one read; past it the stream is fast and it goes on reading, so a
 * fast stream is never slowed down, only sent in larger frames. Never held: a response's first piece and its
 * end, and anything of a stream slower than one piece per {@code minInterval} (a model generating 20 to 100 tokens a
 * second sees no delay at 5 ms).
 *
 * <p>Pieces arrive one at a time on the HTTP client's executor; the timer flushes on its own thread; the monitor
 * guards both.
 */
final class ResponseFrames {
  /**
   * This much held within one interval, a read of the HTTP client's buffer (4 KiB, {@code AgentMain}) or more: the
   * model server is fast and more is waiting. (Not a single read's size: the client's chunked decoding delivers a
   * full buffer as less than 3 KiB when the events are small.)
   */
  static final int FAST = 4 * 1024;

  /**
   * Held bytes go out once they reach this, without waiting for the interval's end: a fast stream (the bench's
   * model server at full speed) then travels in 16 KiB frames, not a frame per 4 KiB read. The exchange's low-water
   * mark is this size: a frame being filled never stops its reads.
   */
  static final int MAX_FRAME = 16 * 1024;

  private final MuxStream stream;
  private final long minIntervalNanos;
  private final ScheduledExecutorService timer;
  private final Runnable afterTimedFlush;
  private byte[] held = new byte[0];
  private int heldLength;
  private boolean flushScheduled;
  private boolean sentAny;
  private long lastSent;
  private boolean closed;

  /** @param afterTimedFlush run (outside the monitor) after the timer sent held bytes: room to ask for more */
  ResponseFrames(MuxStream stream, long minIntervalNanos, ScheduledExecutorService timer, Runnable afterTimedFlush) {
    this.stream = stream;
    this.minIntervalNanos = minIntervalNanos;
    this.timer = timer;
    this.afterTimedFlush = afterTimedFlush;
  }

  /** Whatever the HTTP client read at once: sent now as one frame, or held with what came before. */
  synchronized void add(List<ByteBuffer> chunks) throws StreamResetException {
    if (closed) return;
    int n = 0;
    for (ByteBuffer chunk : chunks) n += chunk.remaining();
    if (n == 0) return;
    long now = System.nanoTime();
    if (heldLength == 0 && (!sentAny || !flushScheduled && now - lastSent >= minIntervalNanos)) {
      byte[] copy = new byte[n];                          // one copy off the client's buffers, owned by the frame
      copyInto(chunks, copy, 0);
      stream.offerOwned(copy);
      sent(now);
      return;
    }
    if (held.length < heldLength + n) {
      held = Arrays.copyOf(held, Math.max(heldLength + n, Math.min(2 * held.length, MAX_FRAME)));
    }
    heldLength = copyInto(chunks, held, heldLength);
    if (heldLength >= MAX_FRAME) {
      sendHeld(now);
    } else if (!flushScheduled) {
      flushScheduled = true;
      timer.schedule(this::flush, Math.max(0, lastSent + minIntervalNanos - now), TimeUnit.NANOSECONDS);
    }
  }

  /** Bytes taken but not yet in a frame. */
  synchronized int held() { return heldLength; }

  /**
   * A few bytes wait for the interval's end: until then the exchange asks its HTTP client for nothing more, so that the
   * model server's next tokens wait in the socket and come in one read, not one read (and wake-up) each. Past
   * {@link #FAST} bytes more is waiting: the exchange goes on reading into the held bytes.
   */
  synchronized boolean holding() { return heldLength > 0 && heldLength < FAST; }

  /** The response ended: what is held goes out now, and FIN after it. */
  synchronized void finish() {
    if (closed) return;
    closed = true;
    try {
      if (heldLength > 0) sendHeld(System.nanoTime());
    } catch (StreamResetException e) {
      return;                                             // the reset reached the exchange through the stream
    } finally {
      held = new byte[0];                                 // the HTTP client's pool may keep this exchange a while
    }
    stream.finish();
  }

  /** The response broke off: what is held goes out before the reset that says so. */
  synchronized void sendHeldNow() {
    if (closed || heldLength == 0) return;
    try {
      sendHeld(System.nanoTime());
    } catch (StreamResetException e) {
      drop();
    }
  }

  /** The stream was reset: nothing more goes out. */
  synchronized void drop() {
    closed = true;
    held = new byte[0];
    heldLength = 0;
  }

  private void flush() {
    synchronized (this) {
      flushScheduled = false;
      if (closed || heldLength == 0) return;
      try {
        sendHeld(System.nanoTime());
      } catch (StreamResetException e) {
        drop();                                           // the stream's listener tells the exchange
        return;
      }
    }
    afterTimedFlush.run();
  }

  private void sendHeld(long now) throws StreamResetException {
    int n = heldLength;
    heldLength = 0;
    stream.offer(held, 0, n);                            // copies: the buffer is kept for the next run of pieces
    sent(now);
  }

  /** Copies the chunks' remaining bytes to {@code to} from {@code at}; returns the index past the last. */
  private static int copyInto(List<ByteBuffer> chunks, byte[] to, int at) {
    for (ByteBuffer chunk : chunks) {
      int len = chunk.remaining();
      chunk.get(to, at, len);
      at += len;
    }
    return at;
  }

  private void sent(long now) {
    sentAny = true;
    lastSent = now;
  }
}
