package sluice.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.time.Duration;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.LongAdder;
import sluice.bench.StreamLoad.Outcome;

/**
 * Thousands of SSE streams on one selector thread, each a non-blocking connection of its own that sends one request
 * and decodes the answer with {@link SseDecoder}. The slow-streams scenario used the JDK HttpClient, whose objects and
 * callbacks per open stream made the load generator about as heavy as the agent it measures (the agent forwards with
 * the same client); an open stream here is a channel, a decoder and a future.
 */
final class SseCrowd implements AutoCloseable {
  private final InetSocketAddress address;
  private final Selector selector;
  private final ConcurrentLinkedQueue<Call> pending = new ConcurrentLinkedQueue<>();
  private final LongAdder sink = new LongAdder();
  private final Thread thread;
  private volatile boolean closed;

  /** Starts the selector thread, named {@code name}, for streams to {@code base}'s host and port. */
  SseCrowd(URI base, String name) throws IOException {
    this.address = new InetSocketAddress(base.getHost(), base.getPort());
    this.selector = Selector.open();
    this.thread = new Thread(this::run, name);
    thread.setDaemon(true);
    thread.start();
  }

  /**
   * Sends {@code request} on a new connection; the future completes (never exceptionally) when the answer ends,
   * fails, or {@code limit} has passed since this call, which is the outcome's {@code sent}.
   */
  CompletableFuture<Outcome> open(byte[] request, Duration limit) {
    Call call = new Call(ByteBuffer.wrap(request), System.nanoTime(), limit, new SseDecoder(sink));
    if (closed) {
      call.result.complete(call.answer.outcome(call.sent, "the client was closed"));
    } else {
      pending.add(call);
      selector.wakeup();
    }
    return call.result;
  }

  /** Events counted so far over every stream. */
  long events() {
    return sink.sum();
  }

  /** Ends every open stream as failed and stops the thread. */
  @Override public void close() throws InterruptedException {
    closed = true;
    selector.wakeup();
    thread.join(10_000);
  }

  private void run() {
    ByteBuffer in = ByteBuffer.allocate(64 * 1024);
    long nextExpiry = System.nanoTime();
    try {
      while (!closed) {
        selector.select(100);
        for (Call c; (c = pending.poll()) != null; ) start(c);
        Iterator<SelectionKey> ready = selector.selectedKeys().iterator();
        while (ready.hasNext()) {
          SelectionKey key = ready.next();
          ready.remove();
          if (key.isValid()) step(key, (Call) key.attachment(), in);
        }
        long now = System.nanoTime();
        if (now >= nextExpiry) {
          expire(now);
          nextExpiry = now + 100_000_000L;
        }
      }
    } catch (IOException | RuntimeException e) {
      fail("the client's selector failed: " + e);
    } finally {
      for (Call c; (c = pending.poll()) != null; ) c.result.complete(c.answer.outcome(c.sent, "the client was closed"));
      fail("the client was closed");
      try {
        selector.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
  }

  private void start(Call call) {
    try {
      SocketChannel ch = SocketChannel.open();
      call.channel = ch;
      ch.configureBlocking(false);
      ch.setOption(StandardSocketOptions.TCP_NODELAY, true);
      SelectionKey key = ch.register(selector, 0, call);
      if (ch.connect(address)) key.interestOps(SelectionKey.OP_WRITE);
      else key.interestOps(SelectionKey.OP_CONNECT);
    } catch (IOException e) {
      finish(call, failure(e));
    }
  }

  private void step(SelectionKey key, Call call, ByteBuffer in) {
    SocketChannel ch = call.channel;
    try {
      if (key.isConnectable() && ch.finishConnect()) key.interestOps(SelectionKey.OP_WRITE);
      if (key.isValid() && key.isWritable()) {
        ch.write(call.request);
        if (!call.request.hasRemaining()) key.interestOps(SelectionKey.OP_READ);
      }
      if (key.isValid() && key.isReadable()) {
        in.clear();
        int n = ch.read(in);
        if (n < 0) {
          call.answer.closed();
          finish(call, null);
        } else if (n > 0) {
          call.answer.feed(in.array(), 0, n);
          if (call.answer.complete()) finish(call, null);
        }
      }
    } catch (IOException | RuntimeException e) {
      finish(call, failure(e));
    }
  }

  /** Fails the streams past their limit; a scan of every key, every 100 ms, is cheap beside their events. */
  private void expire(long now) {
    for (SelectionKey key : selector.keys()) {
      if (key.attachment() instanceof Call c && now - c.sent > c.limit.toNanos()) {
        finish(c, "no end within " + (c.limit.toMillis() % 1000 == 0 ? c.limit.toSeconds() + " s" : c.limit.toMillis() + " ms"));
      }
    }
  }

  private void fail(String why) {
    for (SelectionKey key : selector.keys()) {
      if (key.attachment() instanceof Call c) finish(c, why);
    }
  }

  private static void finish(Call call, String failure) {
    if (call.result.isDone()) return;
    try {
      if (call.channel != null) call.channel.close();
    } catch (IOException ignored) {
      // the outcome is known already
    }
    call.result.complete(call.answer.outcome(call.sent, failure));
  }

  private static String failure(Exception e) {
    return e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage());
  }

  /** One stream: the request left to write, its decoder and its result. */
  private static final class Call {
    final ByteBuffer request;
    final long sent;
    final Duration limit;
    final SseDecoder answer;
    final CompletableFuture<Outcome> result = new CompletableFuture<>();
    SocketChannel channel;

    Call(ByteBuffer request, long sent, Duration limit, SseDecoder answer) {
      this.request = request;
      this.sent = sent;
      this.limit = limit;
      this.answer = answer;
    }
  }
}
