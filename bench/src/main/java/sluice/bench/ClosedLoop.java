package sluice.bench;

import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;

/**
 * A closed-loop load: each of N clients sends its next request as soon as the answer to its previous one has been
 * read completely. First a warm-up (nothing recorded), then a measuring window: a request counts when its answer
 * completes inside the window, so requests per second = completions in the window / its length. Latency is the
 * client's view, from just before sending to the last byte of the body. In a closed loop a slow answer also delays
 * the next request (no coordinated-omission correction): these are service times under N-way concurrency.
 */
final class ClosedLoop {
  private static final long HIGHEST_NANOS = Duration.ofMinutes(2).toNanos();

  /**
   * @param perSecond 200 answers completed in each whole second since the run began, warm-up included: how fast a
   *                  fresh path reaches its steady rate
   */
  record Result(int clients, long requests, long errors, Duration window, Histogram latencyNanos, String firstError,
                Sample before, Sample after, List<Long> perSecond) {
    Result {
      perSecond = List.copyOf(perSecond);
    }

    double requestsPerSecond() {
      return requests / (window.toNanos() / 1e9);
    }
  }

  private ClosedLoop() {}

  /** @param probe read at the very start and end of the measuring window (CPU counters) */
  static Result run(HttpClient http, HttpRequest request, int clients, Duration warmup, Duration window,
                    Supplier<Sample> probe) throws InterruptedException {
    long start = System.nanoTime();
    long measureFrom = start + warmup.toNanos();
    long measureTo = measureFrom + window.toNanos();
    AtomicLongArray perSecond = new AtomicLongArray((int) ((measureTo - start) / 1_000_000_000L));
    List<Client> all = new ArrayList<>();
    for (int i = 0; i < clients; i++) {
      Client c = new Client(http, request, start, measureFrom, measureTo, perSecond);
      all.add(c);
      Thread t = new Thread(c, "bench-client-" + i);
      t.setDaemon(true);
      c.thread = t;
      t.start();
    }
    sleepUntil(measureFrom);
    Sample before = probe.get();
    sleepUntil(measureTo);
    Sample after = probe.get();
    Histogram merged = new Histogram(HIGHEST_NANOS, 3);
    long requests = 0;
    long errors = 0;
    String firstError = null;
    for (Client c : all) {
      c.thread.join(Duration.ofSeconds(60).toMillis());
      if (c.thread.isAlive()) throw new IllegalStateException("a client did not finish within 60 s of the window's end");
      merged.add(c.latencies);
      requests += c.ok;
      errors += c.errors;
      if (firstError == null) firstError = c.firstError.get();
    }
    List<Long> seconds = new ArrayList<>();
    for (int i = 0; i < perSecond.length(); i++) seconds.add(perSecond.get(i));
    return new Result(clients, requests, errors, window, merged, firstError, before, after, seconds);
  }

  static void sleepUntil(long nanoTime) throws InterruptedException {
    for (long left; (left = nanoTime - System.nanoTime()) > 0; ) Thread.sleep(Math.max(1, left / 1_000_000));
  }

  /** One client: a plain thread doing blocking sends, which is what a closed loop is. */
  private static final class Client implements Runnable {
    final HttpClient http;
    final HttpRequest request;
    final long start;
    final long measureFrom;
    final long measureTo;
    final AtomicLongArray perSecond;
    final Histogram latencies = new Histogram(HIGHEST_NANOS, 3);
    final AtomicReference<String> firstError = new AtomicReference<>();
    long ok;
    long errors;
    Thread thread;

    Client(HttpClient http, HttpRequest request, long start, long measureFrom, long measureTo, AtomicLongArray perSecond) {
      this.http = http;
      this.request = request;
      this.start = start;
      this.measureFrom = measureFrom;
      this.measureTo = measureTo;
      this.perSecond = perSecond;
    }

    @Override public void run() {
      while (System.nanoTime() < measureTo) {
        long t0 = System.nanoTime();
        String error = null;
        try {
          HttpResponse<byte[]> r = http.send(request, HttpResponse.BodyHandlers.ofByteArray());
          if (r.statusCode() != 200) error = "HTTP " + r.statusCode() + ": " + abbreviate(new String(r.body(), StandardCharsets.UTF_8));
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          return;
        } catch (Exception e) {
          error = e.toString();
        }
        long t1 = System.nanoTime();
        boolean counted = t1 >= measureFrom && t1 <= measureTo;
        if (error == null) {
          int second = (int) ((t1 - start) / 1_000_000_000L);
          if (second < perSecond.length()) perSecond.incrementAndGet(second);
          if (counted) {
            ok++;
            latencies.recordValue(Math.min(t1 - t0, HIGHEST_NANOS));
          }
        } else {
          if (counted) errors++;
          firstError.compareAndSet(null, error);
          try {
            Thread.sleep(10);        // do not spin on a failing target
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return;
          }
        }
      }
    }

    private static String abbreviate(String s) {
      return s.length() > 200 ? s.substring(0, 200) + "..." : s;
    }
  }
}
