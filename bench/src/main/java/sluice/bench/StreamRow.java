package sluice.bench;

import java.util.List;
import java.util.Map;

/**
 * The streaming scenarios' results for one path; a scenario that could not run is null (the notes say why).
 *
 * @param longStream  one long stream, again and again
 * @param events      many streams back to back: CPU per SSE event
 * @param concurrent  N slow streams open at once with a probe beside them
 */
record StreamRow(String path, LongStream longStream, EventCost events, Concurrent concurrent) {

  /** @param tokensPerSecond the median of the runs, tokens / (request sent → [DONE]) */
  record LongStream(int tokens, int runs, double tokensPerSecond, double slowestTokensPerSecond, double firstEventP50Ms,
                    double firstEventMaxMs, int errors, String firstError) {}

  /** @param events SSE events received in the window (role, token, final chunks and [DONE]) */
  record EventCost(int clients, int tokens, long streams, long events, long errors, String firstError, CpuUse cpu) {
    double eventsPerSecond() {
      return events / cpu.windowSeconds();
    }
  }

  /** One process at the peak, from /proc/<pid>/status. */
  record Peak(String component, long pid, long rssKiB, int threads) {}

  /**
   * @param failures   reason → streams that failed with it
   * @param openAtPeak slow streams that had their first byte and no end yet when the peak was read
   * @param probeTtfb  the probe's time to first body byte
   * @param heapBytes  the gateway JVM's heap in use at the peak (its /metrics), or null without a gateway
   * @param fdNote     what the open-files limit allows, and whether it capped the streams
   */
  record Concurrent(int streams, int tokens, int delayMs, int completed, Map<String, Integer> failures, int openAtPeak,
                    long probes, long probeErrors, String probeError, Latency probeTtfb, Latency probeWhileOpening,
                    Latency probeOnceOpened, List<Peak> peak, Long heapBytes, String fdNote) {
    Concurrent {
      failures = Map.copyOf(failures);
      peak = List.copyOf(peak);
    }

    int failed() {
      return failures.values().stream().mapToInt(Integer::intValue).sum();
    }
  }
}
