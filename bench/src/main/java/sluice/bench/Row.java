package sluice.bench;

/** One measured cell: a path at one concurrency. */
record Row(String path, int clients, long requests, long errors, double seconds, Latency latency, CpuUse cpu) {
  double requestsPerSecond() {
    return requests / seconds;
  }
}
