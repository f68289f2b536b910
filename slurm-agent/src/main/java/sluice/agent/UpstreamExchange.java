package sluice.agent;

import static sluice.agent.wire.ProblemCode.BAD_REQUEST;
import static sluice.agent.wire.ProblemCode.INTERNAL;
import static sluice.agent.wire.ProblemCode.UPSTREAM_ERROR;

import java.io.IOException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.Logger;
import sluice.agent.wire.Messages;
import sluice.agent.wire.Messages.Reply;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;

/**
 * One forward in flight, without a thread of its own. The request body comes off the mux stream as the gateway sends
 * it; the response body goes back as the gateway grants credit, its pieces joined per
 * {@code upstream.min-frame-interval} ({@link ResponseFrames}). Mux credit and the HTTP client's subscription are one
 * flow control: the next chunk is asked of the model server only when less than {@link #LOW_WATER} bytes wait (for the
 * gateway's credit, or held for the next frame) and the stream is not waiting out its frame interval
 * ({@link ResponseFrames#holding}), so a slow client stops the model server's TCP writes, and the agent holds at most a
 * stream window plus a few chunks per stream. A reset from the gateway (client gone) cancels the subscription, which
 * aborts the request.
 *
 * <p>Callbacks arrive on the session's reader thread (stream events) and the HTTP client's executor (response); none
 * of them blocks.
 */
final class UpstreamExchange implements HttpResponse.BodyHandler<Void>, Flow.Subscriber<List<ByteBuffer>> {
  // The forward's log line keeps the name operators already grep for.
  private static final Logger LOG = Logger.getLogger(Agent.class.getName());
  /** Response headers passed back; hop-by-hop and server-identifying headers stay behind. */
  private static final Set<String> RESPONSE_HEADERS = Set.of("content-type", "content-length", "retry-after");
  private static final long LOW_WATER = ResponseFrames.MAX_FRAME;   // a frame being filled never stops the reads
  /**
   * Chunks asked of the HTTP client ahead: one at a time would make a fast stream wait for a round trip between the
   * client's selector and its executor after every chunk. The client's chunks hold at most its read buffer (4 KiB).
   */
  private static final int AHEAD = 4;

  /** How the request body reaches the model server: already whole, collected first, or streamed. */
  interface RequestBody {
    /** New inbound bytes or end of input on the mux stream; never blocks. */
    void onStreamEvent() throws StreamResetException;

    /** The stream was reset: give up. */
    default void abort() {}
  }

  private final MuxStream stream;
  private final Messages.Forward call;
  private final HttpRequest.Builder request;
  private final HttpClient http;
  private final Executor io;
  private final ResponseFrames frames;
  private final long started = System.nanoTime();
  private final AtomicInteger pulls = new AtomicInteger();          // work-in-progress count of pull()
  private final AtomicBoolean aborted = new AtomicBoolean();
  private volatile RequestBody body;
  private volatile CompletableFuture<?> sent;
  private volatile Flow.Subscription subscription;
  private final AtomicInteger outstanding = new AtomicInteger();   // chunks asked for that have not come yet
  private volatile boolean ended;
  private volatile boolean headSent;
  private volatile int status;
  private long bytes;                                               // onNext calls are serial

  UpstreamExchange(MuxStream stream, Messages.Forward call, HttpRequest.Builder request, HttpClient http, Executor io,
                   ScheduledExecutorService frameTimer, Duration minFrameInterval) {
    this.stream = stream;
    this.call = call;
    this.request = request;
    this.http = http;
    this.io = io;
    this.frames = new ResponseFrames(stream, minFrameInterval.toNanos(), frameTimer, this::pull);
  }

  /** Starts the exchange: {@code body} decides when the request goes out (see {@link #send}). */
  void start(RequestBody body) {
    this.body = body;
    stream.setListener(this::onStreamEvent);
  }

  /**
   * Sends the request: at once on a call thread (the usual case, the body came with the call), else from an I/O
   * thread (resolving the node's name may block; the session's reader thread must not).
   */
  void send(HttpRequest.BodyPublisher publisher) {
    HttpRequest built = request.method(call.method(), publisher).build();
    Runnable start = () -> {
      if (aborted.get()) return;
      CompletableFuture<HttpResponse<Void>> exchange = http.sendAsync(built, this);
      sent = exchange;                               // cancelling this one (not a stage after it) aborts the request
      exchange.whenComplete((r, t) -> {
        if (t != null) failed(t instanceof CompletionException && t.getCause() != null ? t.getCause() : t);
      });
      if (aborted.get()) exchange.cancel(true);      // reset while the request was being sent
    };
    if (Thread.currentThread() instanceof Agent.CallThread) start.run();
    else io.execute(start);
  }

  /** Refuses the call before anything went upstream (a body that does not match its Content-Length). */
  void refuse(String message) {
    Agent.replyQuietly(stream, Reply.error(400, BAD_REQUEST, message));
  }

  private void onStreamEvent() {
    if (stream.resetReason() != null) {
      abort();
      return;
    }
    try {
      RequestBody b = body;
      if (b != null) b.onStreamEvent();
    } catch (StreamResetException e) {
      abort();
      return;
    }
    pull();
  }

  private void abort() {
    if (!aborted.compareAndSet(false, true)) return;
    LOG.fine(() -> "request " + call.requestId() + " cancelled by the gateway (" + stream.resetReason() + ")");
    RequestBody b = body;
    if (b != null) b.abort();
    frames.drop();
    Flow.Subscription s = subscription;
    if (s != null) s.cancel();
    CompletableFuture<?> f = sent;
    if (f != null) f.cancel(true);
  }

  // ---------------------------------------------------------------- response

  @Override public HttpResponse.BodySubscriber<Void> apply(HttpResponse.ResponseInfo info) {
    status = info.statusCode();
    try {
      stream.sendReply(new Reply(info.statusCode(), responseHeaders(info), null, null), false);
      headSent = true;
    } catch (StreamResetException | IllegalStateException e) {
      abort();                                // onSubscribe cancels what the client starts to deliver
    }
    return HttpResponse.BodySubscribers.fromSubscriber(this);
  }

  @Override public void onSubscribe(Flow.Subscription s) {
    subscription = s;
    if (aborted.get() || stream.resetReason() != null) s.cancel();
    else pull();
  }

  @Override public void onNext(List<ByteBuffer> chunks) {
    outstanding.decrementAndGet();
    try {
      for (ByteBuffer chunk : chunks) bytes += chunk.remaining();
      frames.add(chunks);
    } catch (StreamResetException e) {
      abort();
      return;
    }
    pull();
  }

  @Override public void onError(Throwable t) {
    ended = true;
    if (aborted.get() || stream.resetReason() != null) return;
    LOG.info(() -> "model server broke off request " + call.requestId() + ": " + t.getMessage());
    frames.sendHeldNow();
    stream.reset(UPSTREAM_ERROR, "model server broke off the response");
  }

  @Override public void onComplete() {
    ended = true;
    frames.finish();
    // One line per forward, with the gateway's request id (it is also the model server's X-Request-Id): an operator
    // follows one request from the gateway's request log to here and to the model server's log.
    long sentBytes = bytes;
    LOG.info(() -> "forward " + (call.requestId() == null ? "-" : call.requestId()) + " " + call.service() + " job "
        + call.job() + " " + call.method() + " " + Agent.pathOnly(call.path()) + " -> " + status + " in "
        + (System.nanoTime() - started) / 1_000_000 + " ms, " + sentBytes + " bytes");
  }

  /** Asks the model server for up to {@link #AHEAD} more chunks while little waits for credit and no frame is due. */
  private void pull() {
    if (pulls.getAndIncrement() != 0) return;       // the thread already in the loop below takes this turn too
    do {
      Flow.Subscription s = subscription;
      int more = AHEAD - outstanding.get();
      if (s != null && more > 0 && !ended && !aborted.get() && !frames.holding()
          && stream.pendingBytes() + frames.held() < LOW_WATER) {
        outstanding.addAndGet(more);
        s.request(more);
      }
    } while (pulls.decrementAndGet() != 0);
  }

  /** The exchange failed before or instead of its body. */
  private void failed(Throwable t) {
    if (headSent || aborted.get() || stream.resetReason() != null) return;   // the body's onError, or a reset, said it
    if (t instanceof HttpTimeoutException) {
      Agent.replyQuietly(stream, Reply.error(504, UPSTREAM_ERROR, "model server sent no response head in time"));
    } else if (t instanceof IOException) {
      Agent.replyQuietly(stream, Reply.error(502, UPSTREAM_ERROR, "model server unreachable: " + t.getClass().getSimpleName()));
    } else {
      LOG.warning(() -> "forward " + call.requestId() + " failed: " + t);
      stream.reset(INTERNAL, "agent error");
    }
  }

  private static Map<String, String> responseHeaders(HttpResponse.ResponseInfo info) {
    Map<String, String> out = new LinkedHashMap<>();
    info.headers().map().forEach((k, v) -> {
      String name = k.toLowerCase(Locale.ROOT);
      if (RESPONSE_HEADERS.contains(name) && !v.isEmpty()) out.put(name, v.get(0));
    });
    return out;
  }
}
