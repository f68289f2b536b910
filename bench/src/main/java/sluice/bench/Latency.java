package sluice.bench;

import org.HdrHistogram.Histogram;

/** Latency percentiles of one measuring window, in milliseconds (recorded in nanoseconds, 3 significant digits). */
record Latency(double p50, double p90, double p99, double max) {
  static Latency of(Histogram nanos) {
    if (nanos.getTotalCount() == 0) return new Latency(Double.NaN, Double.NaN, Double.NaN, Double.NaN);
    return new Latency(ms(nanos.getValueAtPercentile(50)), ms(nanos.getValueAtPercentile(90)),
        ms(nanos.getValueAtPercentile(99)), ms(nanos.getMaxValue()));
  }

  private static double ms(long nanos) {
    return nanos / 1_000_000.0;
  }
}
