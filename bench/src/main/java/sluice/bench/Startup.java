package sluice.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.OptionalInt;

/**
 * How a fresh gateway path came up, in seconds since just before its process was started: its first answers to the
 * short chat request, then its rate, second by second, through the path warm-up.
 *
 * @param listening       when the request that got the first HTTP answer was sent (every earlier one found no listener)
 * @param firstAnswer     when that first answer arrived, and {@code firstStatus} its status
 * @param firstOk         when the first 200 arrived
 * @param warmupFrom      when the path warm-up began; {@code warmupClients} its concurrency
 * @param warmupPerSecond 200 answers in each second of the path warm-up (empty without one)
 */
record Startup(String path, double listening, double firstAnswer, int firstStatus, double firstOk, double warmupFrom,
               int warmupClients, List<Long> warmupPerSecond) {
  /** The readings are grouped in buckets of this many seconds, so one lucky second does not count as steady. */
  static final int BUCKET_SECONDS = 5;

  Startup {
    warmupPerSecond = List.copyOf(warmupPerSecond);
  }

  /** What the gateway stack saw while it started, as {@link System#nanoTime()} readings; 0 where nothing came. */
  record Launch(long started, long listening, long firstAnswer, int firstStatus, long firstOk) {}

  /** @param warmupStarted {@link System#nanoTime()} when the path warm-up began */
  static Startup of(String path, Launch l, long warmupStarted, int clients, List<Long> perSecond) {
    return new Startup(path, seconds(l.started(), l.listening()), seconds(l.started(), l.firstAnswer()), l.firstStatus(),
        seconds(l.started(), l.firstOk()), seconds(l.started(), warmupStarted), clients, perSecond);
  }

  private static double seconds(long from, long to) {
    return to == 0 ? Double.NaN : (to - from) / 1e9;
  }

  /** Requests/s in each whole bucket of the warm-up; a last, partial bucket is left out. */
  List<Double> bucketRates() {
    List<Double> out = new ArrayList<>();
    for (int b = 0; (b + 1) * BUCKET_SECONDS <= warmupPerSecond.size(); b++) {
      long sum = 0;
      for (int i = b * BUCKET_SECONDS; i < (b + 1) * BUCKET_SECONDS; i++) sum += warmupPerSecond.get(i);
      out.add(sum / (double) BUCKET_SECONDS);
    }
    return out;
  }

  /** Seconds since the process start at which bucket {@code b} ended. */
  double bucketEnd(int b) {
    return warmupFrom + (b + 1) * BUCKET_SECONDS;
  }

  /** The first bucket whose rate reached {@code rate}. */
  OptionalInt firstBucketReaching(double rate) {
    List<Double> rates = bucketRates();
    for (int b = 0; b < rates.size(); b++) {
      if (rates.get(b) >= rate) return OptionalInt.of(b);
    }
    return OptionalInt.empty();
  }
}
