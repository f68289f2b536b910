package sluice.bench;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * A few samples of one measurement (seconds or milliseconds, as the caller keeps them): count, min, median, max and
 * the samples themselves in the order taken, for the report's "raw samples" column.
 */
record Spread(List<Double> samples, double min, double median, double max) {
  Spread {
    samples = List.copyOf(samples);
  }

  static Spread of(List<Double> samples) {
    if (samples.isEmpty()) return new Spread(List.of(), Double.NaN, Double.NaN, Double.NaN);
    List<Double> sorted = new ArrayList<>(samples);
    Collections.sort(sorted);
    int n = sorted.size();
    // The middle sample, or the mean of the two middle ones: with 3-5 samples a percentile rule would hide that.
    double median = n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
    return new Spread(samples, sorted.get(0), median, sorted.get(n - 1));
  }

  int count() {
    return samples.size();
  }

  /**
   * Nearest-rank percentile (the smallest sample with at least {@code p} % of the samples at or below it), NaN when
   * there is none. For latency lists of a few thousand requests, where an exact rank is cheap.
   */
  static double percentile(List<Double> values, double p) {
    if (values.isEmpty()) return Double.NaN;
    if (p <= 0 || p > 100) throw new IllegalArgumentException("percentile must be in (0, 100]: " + p);
    List<Double> sorted = new ArrayList<>(values);
    Collections.sort(sorted);
    int rank = (int) Math.ceil(p / 100.0 * sorted.size());
    return sorted.get(Math.max(1, rank) - 1);
  }
}
