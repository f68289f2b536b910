package sluice.core.metrics;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.DistributionDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Reads a registry back as {@code /metrics} would show it: one series by its name (as exported, a counter with its
 * {@code _total}) and all of its labels, given as name/value pairs. Tests assert on these numbers.
 */
public final class MetricValues {
  private MetricValues() {}

  /** A counter's or gauge's value; 0 when the series does not exist (a counter that never moved is not exported). */
  public static double value(PrometheusRegistry registry, String name, String... labels) {
    return point(registry, name, labels).map(MetricValues::valueOf).orElse(0.0);
  }

  /** How many values a histogram observed; 0 when the series does not exist. */
  public static long count(PrometheusRegistry registry, String name, String... labels) {
    return point(registry, name, labels).map(p -> ((DistributionDataPointSnapshot) p).getCount()).orElse(0L);
  }

  /** The sum of what a histogram observed; 0 when the series does not exist. */
  public static double sum(PrometheusRegistry registry, String name, String... labels) {
    return point(registry, name, labels).map(p -> ((DistributionDataPointSnapshot) p).getSum()).orElse(0.0);
  }

  /** Whether the series is exported at all. */
  public static boolean exists(PrometheusRegistry registry, String name, String... labels) {
    return point(registry, name, labels).isPresent();
  }

  /** The label sets of every series of {@code name} whose labels include the given pairs. */
  public static List<Map<String, String>> series(PrometheusRegistry registry, String name, String... labels) {
    Labels wanted = Labels.of(labels);
    return points(registry, name).stream()
        .filter(p -> wanted.stream().allMatch(l -> l.getValue().equals(p.getLabels().get(l.getName()))))
        .map(p -> {
          Map<String, String> m = new LinkedHashMap<>();
          p.getLabels().forEach(l -> m.put(l.getName(), l.getValue()));
          return m;
        })
        .toList();
  }

  private static Optional<DataPointSnapshot> point(PrometheusRegistry registry, String name, String... labels) {
    Labels wanted = Labels.of(labels);
    return points(registry, name).stream().filter(p -> p.getLabels().equals(wanted)).map(p -> (DataPointSnapshot) p).findFirst();
  }

  private static List<? extends DataPointSnapshot> points(PrometheusRegistry registry, String name) {
    for (MetricSnapshot s : registry.scrape()) {
      String base = s.getMetadata().getPrometheusName();
      if (base.equals(name) || (s instanceof CounterSnapshot && (base + "_total").equals(name))) return s.getDataPoints();
    }
    return List.of();
  }

  private static double valueOf(DataPointSnapshot p) {
    if (p instanceof CounterSnapshot.CounterDataPointSnapshot c) return c.getValue();
    if (p instanceof GaugeSnapshot.GaugeDataPointSnapshot g) return g.getValue();
    throw new IllegalArgumentException("not a counter or gauge: " + p);
  }
}
