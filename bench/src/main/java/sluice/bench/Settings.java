package sluice.bench;

import java.time.Duration;
import java.util.List;

/** How one run measures: which paths, at which concurrencies, for how long, with which model-server flags. */
/**
 * @param pathWarmup how long each path runs at its highest concurrency, unrecorded, before its first row: a fresh
 *     gateway JVM needs tens of seconds of traffic before its JIT compilers settle
 * @param idle how long each path's CPU is measured with no request, after its load rows
 * @param streams the streaming scenarios run on each path after its load rows
 */
record Settings(List<String> paths, List<Integer> concurrency, Duration pathWarmup, Duration warmup, Duration window,
                Duration idle, List<String> mockArgs, StreamPlan streams) {
  Settings {
    paths = List.copyOf(paths);
    concurrency = List.copyOf(concurrency);
    mockArgs = List.copyOf(mockArgs);
    if (!paths.contains("direct")) throw new IllegalArgumentException("the direct path is the baseline: it is always measured");
    for (String p : paths) {
      if (!List.of("direct", "nginx", "embedded", "limited", "ssh").contains(p)) throw new IllegalArgumentException("unknown path: " + p);
    }
    if (concurrency.isEmpty() || concurrency.stream().anyMatch(c -> c < 1 || c > 1024)) {
      throw new IllegalArgumentException("concurrency must be 1..1024: " + concurrency);
    }
    if (pathWarmup.isNegative() || warmup.isNegative() || idle.isNegative() || window.compareTo(Duration.ofSeconds(1)) < 0) {
      throw new IllegalArgumentException("the measuring window must be at least 1 s and the warm-up not negative");
    }
  }
}
