package sluice.agent;

import java.io.IOException;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;

/** The ways a forward's request body goes from the mux stream to the model server, none of them holding a thread. */
final class RequestBodies {
  private RequestBodies() {}

  /** No body (the call came with FIN, or Content-Length 0): the request goes out at once. */
  static UpstreamExchange.RequestBody none(UpstreamExchange exchange) {
    exchange.send(HttpRequest.BodyPublishers.noBody());
    return () -> {};
  }

  /**
   * The usual chat request: collected whole as it arrives, then handed to the client as one array with its
   * Content-Length. Streaming a small body through a publisher costs more hand-offs than it saves.
   */
  static final class Whole implements UpstreamExchange.RequestBody {
    private final UpstreamExchange exchange;
    private final MuxStream stream;
    private final byte[] bytes;
    private int filled;
    private boolean done;

    Whole(UpstreamExchange exchange, MuxStream stream, int length) {
      this.exchange = exchange;
      this.stream = stream;
      this.bytes = new byte[length];
    }

    @Override public synchronized void onStreamEvent() throws StreamResetException {
      if (done) return;
      for (byte[] chunk; (chunk = stream.poll()) != null; ) {
        if (chunk.length > bytes.length - filled) {
          done = true;
          exchange.refuse("request body is longer than its content-length");
          return;
        }
        System.arraycopy(chunk, 0, bytes, filled, chunk.length);
        filled += chunk.length;
      }
      if (!stream.isInputFinished()) return;
      done = true;
      if (filled != bytes.length) exchange.refuse("request body is shorter than its content-length");
      else exchange.send(HttpRequest.BodyPublishers.ofByteArray(bytes));
    }
  }

  /**
   * A large or unannounced body, published to the client as the gateway sends it: a chunk goes out when the client
   * asks for one, and polling it grants the gateway credit for the next. The request starts at once.
   */
  static final class Streamed implements UpstreamExchange.RequestBody, Flow.Publisher<ByteBuffer> {
    private final MuxStream stream;
    private final AtomicInteger drains = new AtomicInteger();         // work-in-progress count of drain()
    private volatile Flow.Subscriber<? super ByteBuffer> subscriber;
    private volatile long demand;                                      // changed only inside drain() and request()
    private volatile boolean finished;
    private volatile boolean cancelled;

    Streamed(MuxStream stream) {
      this.stream = stream;
    }

    HttpRequest.BodyPublisher publisher(long length) {
      return length < 0 ? HttpRequest.BodyPublishers.fromPublisher(this) : HttpRequest.BodyPublishers.fromPublisher(this, length);
    }

    @Override public void subscribe(Flow.Subscriber<? super ByteBuffer> s) {
      if (subscriber != null) {                  // no redirects and no retries of a POST: one subscription only
        s.onSubscribe(new Flow.Subscription() {
          @Override public void request(long n) {}

          @Override public void cancel() {}
        });
        s.onError(new IllegalStateException("the request body can be sent once"));
        return;
      }
      subscriber = s;
      s.onSubscribe(new Flow.Subscription() {
        @Override public void request(long n) {
          synchronized (Streamed.this) {
            demand = n <= 0 || demand + n < 0 ? Long.MAX_VALUE : demand + n;
          }
          drain();
        }

        @Override public void cancel() {
          cancelled = true;
        }
      });
    }

    @Override public void onStreamEvent() {
      drain();
    }

    @Override public void abort() {
      Flow.Subscriber<? super ByteBuffer> s = subscriber;
      if (s != null && !finished && !cancelled) {
        finished = true;
        s.onError(new IOException("the gateway reset the stream"));
      }
    }

    private void drain() {
      if (drains.getAndIncrement() != 0) return;
      do {
        Flow.Subscriber<? super ByteBuffer> s = subscriber;
        if (s == null || finished || cancelled) continue;
        try {
          while (demand > 0) {
            byte[] chunk = stream.poll();
            if (chunk == null) break;
            synchronized (this) {
              if (demand != Long.MAX_VALUE) demand--;
            }
            s.onNext(ByteBuffer.wrap(chunk));
          }
          if (stream.isInputFinished()) {
            finished = true;
            s.onComplete();
          }
        } catch (StreamResetException e) {
          abort();
        }
      } while (drains.decrementAndGet() != 0);
    }
  }
}
