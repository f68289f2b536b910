package sluice.bench;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.LongAdder;

/**
 * SSE streams through the JDK HttpClient's async API: a stream is a callback on the client's selector thread, not a
 * thread, so one bench JVM holds thousands open. Events are counted by their blank-line ends as the bytes arrive,
 * without parsing the JSON, so the load generator costs little per event.
 */
final class StreamLoad {
  private StreamLoad() {}

  /**
   * How one stream went. Times are System.nanoTime(); firstByte is 0 when no body byte came.
   *
   * @param done the body ended with {@code data: [DONE]}
   */
  record Outcome(int status, long sent, long firstByte, long end, long events, boolean done, String error) {
    boolean ok() {
      return error == null;
    }

    double firstByteMs() {
      return (firstByte - sent) / 1e6;
    }

    double seconds() {
      return (end - sent) / 1e9;
    }
  }

  /** A streaming chat completion of {@code tokens} tokens; {@code delayMs} ≥ 0 sets mock_token_delay_ms. */
  static HttpRequest request(URI base, String key, String model, int tokens, int delayMs, Duration timeout) {
    return HttpRequest.newBuilder(base.resolve("/v1/chat/completions"))
        .timeout(timeout)
        .header("Content-Type", "application/json")
        .header("Authorization", "Bearer " + key)
        .POST(HttpRequest.BodyPublishers.ofString(body(model, tokens, delayMs)))
        .build();
  }

  static String body(String model, int tokens, int delayMs) {
    return "{\"model\":\"" + model + "\",\"stream\":true,\"max_tokens\":" + tokens
        + (delayMs >= 0 ? ",\"mock_token_delay_ms\":" + delayMs : "")
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"Stream something.\"}]}";
  }

  /**
   * Sends {@code request}; the future completes (never exceptionally) when the stream ends, fails, or {@code limit}
   * has passed. {@code events} is added to as events arrive, for windows that count events rather than streams.
   */
  static CompletableFuture<Outcome> open(HttpClient http, HttpRequest request, LongAdder events, Duration limit) {
    long sent = System.nanoTime();
    Sse[] holder = new Sse[1];
    return http.sendAsync(request, info -> {
          Sse s = new Sse(sent, info.statusCode(), events);
          holder[0] = s;
          return HttpResponse.BodySubscribers.fromSubscriber(s, Sse::outcome);
        })
        .handle((r, e) -> e == null ? r.body() : failure(sent, holder[0], e))
        .completeOnTimeout(null, limit.toMillis(), TimeUnit.MILLISECONDS)
        .thenApply(o -> o != null ? o : failure(sent, holder[0], "no end within " + limit.toSeconds() + " s"));
  }

  private static Outcome failure(long sent, Sse s, Throwable e) {
    Throwable cause = e.getCause() != null && e instanceof java.util.concurrent.CompletionException ? e.getCause() : e;
    String msg = cause.getMessage() == null ? "" : ": " + cause.getMessage();
    return failure(sent, s, cause.getClass().getSimpleName() + (msg.length() > 120 ? msg.substring(0, 120) + "..." : msg));
  }

  private static Outcome failure(long sent, Sse s, String error) {
    return new Outcome(s == null ? 0 : s.status, sent, s == null ? 0 : s.firstByte, System.nanoTime(),
        s == null ? 0 : s.events, false, error);
  }

  /** How many of a body's last bytes are kept: enough for an in-band error event. */
  static final int TAIL = 320;

  static boolean endsWithDone(byte[] tail) {
    byte[] done = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    return java.util.Arrays.equals(tail, tail.length - done.length, tail.length, done, 0, done.length);
  }

  /** "; last: <the last event>" from a body's kept last bytes ({@code seen} bytes in all), for a stream cut short. */
  static String lastEvent(byte[] tail, long seen) {
    int have = (int) Math.min(seen, tail.length);
    String text = new String(tail, tail.length - have, have, StandardCharsets.UTF_8).stripTrailing();
    int start = text.lastIndexOf("\n\n");
    String last = (start >= 0 ? text.substring(start + 2) : text).replace('\n', ' ').trim();
    if (last.isEmpty()) return "";
    return "; last: " + (last.length() > 200 ? last.substring(last.length() - 200) : last);
  }

  /** Counts events (a blank line ends one) and keeps the body's last bytes to see [DONE]; the body of a non-200. */
  private static final class Sse implements Flow.Subscriber<List<ByteBuffer>> {
    private static final byte[] DONE = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    final long sent;
    long seen;
    final int status;
    final LongAdder sink;
    final byte[] tail = new byte[TAIL];
    final StringBuilder errorBody = new StringBuilder();
    long firstByte;
    long events;
    long end;
    boolean newline;
    String failed;

    Sse(long sent, int status, LongAdder sink) {
      this.sent = sent;
      this.status = status;
      this.sink = sink;
    }

    @Override public void onSubscribe(Flow.Subscription s) {
      s.request(Long.MAX_VALUE);
    }

    @Override public void onNext(List<ByteBuffer> buffers) {
      long n = 0;
      for (ByteBuffer b : buffers) {
        int len = b.remaining();
        if (len == 0) continue;
        if (firstByte == 0) firstByte = System.nanoTime();
        if (status != 200 && errorBody.length() < 300) {
          byte[] copy = new byte[Math.min(len, 300)];
          b.duplicate().get(copy);
          errorBody.append(new String(copy, StandardCharsets.UTF_8));
        }
        for (int i = b.position(); i < b.limit(); i++) {
          byte c = b.get(i);
          if (c == '\n') {
            if (newline) {
              n++;
              newline = false;
            } else {
              newline = true;
            }
          } else {
            newline = false;
          }
        }
        // the last TAIL bytes seen so far
        seen += len;
        int keep = Math.min(len, tail.length);
        System.arraycopy(tail, keep, tail, 0, tail.length - keep);
        b.duplicate().position(b.limit() - keep).get(tail, tail.length - keep, keep);
      }
      events += n;
      if (n > 0) sink.add(n);
    }

    @Override public void onError(Throwable t) {
      failed = t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
      end = System.nanoTime();
    }

    @Override public void onComplete() {
      end = System.nanoTime();
    }

    Outcome outcome() {
      boolean done = endsWithDone(tail);
      String error = failed != null ? failed
          : status != 200 ? "HTTP " + status + ": " + errorBody.toString().replace('\n', ' ').trim()
          : !done ? "ended without [DONE] after " + events + " events" + lastEvent(tail, seen) : null;
      return new Outcome(status, sent, firstByte, end == 0 ? System.nanoTime() : end, events, done, error);
    }
  }
}
