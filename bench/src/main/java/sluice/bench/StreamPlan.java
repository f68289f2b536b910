package sluice.bench;

import java.time.Duration;

/**
 * The streaming scenarios of one run (bench/README.md, "Streams").
 *
 * @param longTokens     tokens of the one long stream (no delay between them)
 * @param longWarmups    unrecorded long streams before the measured ones
 * @param longRuns       measured long streams; tokens/s is their median
 * @param eventClients   streams back to back, each client opening its next when the previous ended
 * @param eventTokens    tokens of each of those streams
 * @param eventWarmup    their warm-up (it also warms every process's streaming code for the long stream)
 * @param eventWindow    their measuring window
 * @param streams        slow streams open at once (--streams)
 * @param slowTokens     tokens of each slow stream
 * @param slowDelayMs    the slow streams' pause before each token (mock_token_delay_ms)
 * @param probeEvery     how often the probe sends its short stream beside the slow ones
 * @param openPerSecond  how fast the slow streams are opened: all at once would be a SYN flood, not a workload
 */
record StreamPlan(int longTokens, int longWarmups, int longRuns, int eventClients, int eventTokens,
                  Duration eventWarmup, Duration eventWindow, int streams,
                  int slowTokens, int slowDelayMs, Duration probeEvery, int openPerSecond) {
  static final int DEFAULT_STREAMS = 1000;
  static final int QUICK_STREAMS = 200;
  static final int MAX_STREAMS = 10_000;

  StreamPlan {
    if (streams < 1 || streams > MAX_STREAMS) throw new IllegalArgumentException("--streams must be 1.." + MAX_STREAMS + ": " + streams);
  }

  /** @param streams the --streams value, or null for the default (1,000; --quick 200) */
  static StreamPlan of(boolean quick, Integer streams) {
    int n = streams != null ? streams : quick ? QUICK_STREAMS : DEFAULT_STREAMS;
    // Opened at 1,000 a second, 10,000 streams were a 10 s storm of new connections (each costs the gateway far more
    // than a request on a kept-alive one): its accept queue overflowed and connects timed out; at 500 a second the
    // saturated machine still answered the replica's health check late. That measures the storm, not the streams that
    // the target asks to hold open.
    int openPerSecond = 250;
    // Every stream must still be open when the last one opens: 8 s more than the ramp, within 10..50 tokens.
    int slowTokens = Math.min(50, Math.max(quick ? 10 : 12, n / openPerSecond + 8));
    // Shorter than the short requests' 10 s + 15 s: the path is warm by then, and the whole run must stay near 12 min.
    return new StreamPlan(2000, quick ? 2 : 3, quick ? 5 : 9, 8, 500, Duration.ofSeconds(quick ? 2 : 5),
        Duration.ofSeconds(quick ? 5 : 10), n, slowTokens, 1000, Duration.ofMillis(200),
        openPerSecond);
  }

  /**
   * Handler threads for mock-llm: one per request it answers at once without pauses between tokens (the 64 clients of
   * the short requests, the 8 of the event-cost row, the long stream, the probes), with a margin. The slow streams hold
   * none: mock-llm writes tokens that come with a pause from its pacer threads.
   */
  int mockThreads() {
    return 256;
  }

  /** Requests the gateway must let through at once: every slow stream and the probes beside them. */
  int inflight() {
    return Math.max(128, streams + 64);
  }
}
