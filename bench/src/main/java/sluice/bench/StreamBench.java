package sluice.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Supplier;
import org.HdrHistogram.Histogram;
import sluice.bench.StreamLoad.Outcome;

/** The streaming scenarios on one running path: one long stream, CPU per SSE event, N slow streams with a probe. */
final class StreamBench {
  private StreamBench() {}

  /**
   * Every streaming scenario on one path; a scenario that fails is left out (null) and named in {@code notes}. The
   * slow streams go first, on a path that only carried short requests so far (the floods of the other two made the
   * current agent miss pings, and the gateway then cut every stream of the tunnel); the streams back to back warm
   * the streaming code of every process for the long stream.
   *
   * @param path the path's name in the report ("limited" runs on an embedded stack)
   */
  static StreamRow measure(String path, Stack stack, String key, Settings s, Map<Long, String> owners,
                           Supplier<Sample> probe, double hz, List<String> notes, java.io.PrintStream err)
      throws InterruptedException {
    StreamPlan p = s.streams();
    StreamRow.LongStream one = null;
    StreamRow.EventCost events = null;
    StreamRow.Concurrent concurrent = null;
    try {
      err.printf("bench: %s path: %d slow streams at once, a probe every %d ms%n", path, p.streams(), p.probeEvery().toMillis());
      concurrent = concurrent(stack, key, p, owners);
      if (concurrent.failed() > 0 || concurrent.probeErrors() > 0) {
        notes.add(path + " path, " + p.streams() + " slow streams: " + concurrent.failed() + " failed, "
            + concurrent.probeErrors() + " probes failed" + (concurrent.probeError() == null ? "" : "; first probe error: " + concurrent.probeError()));
      }
    } catch (RuntimeException e) {
      notes.add(path + " path, slow streams: failed: " + e);
    }
    try {
      err.printf("bench: %s path: %d clients, %d-token streams back to back%n", path, p.eventClients(), p.eventTokens());
      events = eventCost(stack.baseUri(), key, stack.model(), p, p.eventWarmup(), p.eventWindow(), owners, probe, hz);
      if (events.errors() > 0) notes.add(path + " path, streams back to back: " + events.errors() + " failed; first: " + events.firstError());
    } catch (RuntimeException e) {
      notes.add(path + " path, streams back to back: failed: " + e);
    }
    try {
      err.printf("bench: %s path: one %d-token stream, %d times%n", path, p.longTokens(), p.longWarmups() + p.longRuns());
      one = longStream(stack.baseUri(), key, stack.model(), p);
      if (one.errors() > 0) notes.add(path + " path, long stream: " + one.errors() + " failed; first: " + one.firstError());
    } catch (RuntimeException e) {
      notes.add(path + " path, long stream: failed: " + e);
    }
    return new StreamRow(path, one, events, concurrent);
  }

  /** One long stream on one kept-alive connection, {@code longWarmups} times unrecorded, then {@code longRuns} times. */
  static StreamRow.LongStream longStream(URI base, String key, String model, StreamPlan p) {
    byte[] request = SseConnection.request(base, key, StreamLoad.body(model, p.longTokens(), -1));
    List<Double> rates = new ArrayList<>();
    List<Double> firsts = new ArrayList<>();
    int errors = 0;
    String firstError = null;
    try (SseConnection c = new SseConnection(base)) {
      for (int i = 0; i < p.longWarmups() + p.longRuns(); i++) {
        Outcome o = c.stream(request, new LongAdder());
        if (i < p.longWarmups()) continue;
        long tokens = o.events() - 3;         // role chunk, final chunk and [DONE] besides the tokens
        String error = o.ok() && tokens < p.longTokens() ? "only " + tokens + " of " + p.longTokens() + " tokens" : o.error();
        if (error != null) {
          errors++;
          if (firstError == null) firstError = error;
          continue;
        }
        rates.add(tokens / o.seconds());
        firsts.add(o.firstByteMs());
      }
    }
    Collections.sort(rates);
    Collections.sort(firsts);
    return new StreamRow.LongStream(p.longTokens(), rates.size(), median(rates), rates.isEmpty() ? Double.NaN : rates.get(0),
        median(firsts), firsts.isEmpty() ? Double.NaN : firsts.get(firsts.size() - 1), errors, firstError);
  }

  /**
   * {@code eventClients} threads, each on its own kept-alive connection opening its next stream when the previous one
   * ended, through a warm-up and a window; CPU read around the window.
   */
  static StreamRow.EventCost eventCost(URI base, String key, String model, StreamPlan p, Duration warmup, Duration window,
                                       Map<Long, String> owners, Supplier<Sample> probe, double hz)
      throws InterruptedException {
    byte[] request = SseConnection.request(base, key, StreamLoad.body(model, p.eventTokens(), -1));
    LongAdder events = new LongAdder();
    long from = System.nanoTime() + warmup.toNanos();
    long to = from + window.toNanos();
    AtomicLong streams = new AtomicLong();
    AtomicLong errors = new AtomicLong();
    AtomicReference<String> firstError = new AtomicReference<>();
    List<Thread> clients = new ArrayList<>();
    for (int i = 0; i < p.eventClients(); i++) {
      Thread t = new Thread(() -> {
        try (SseConnection c = new SseConnection(base)) {
          while (System.nanoTime() < to) {
            Outcome o = c.stream(request, events);
            boolean inWindow = o.end() >= from && o.end() <= to;
            if (o.ok()) {
              if (inWindow) streams.incrementAndGet();
            } else {
              if (inWindow) errors.incrementAndGet();
              firstError.compareAndSet(null, o.error());
              try {
                Thread.sleep(10);             // no spinning on a failing path
              } catch (InterruptedException e) {
                return;
              }
            }
          }
        }
      }, "bench-stream-" + i);
      t.setDaemon(true);
      t.start();
      clients.add(t);
    }
    ClosedLoop.sleepUntil(from);
    Sample before = probe.get();
    long e0 = events.sum();
    ClosedLoop.sleepUntil(to);
    Sample after = probe.get();
    long e1 = events.sum();
    for (Thread t : clients) {
      t.join(Duration.ofSeconds(150).toMillis());
      if (t.isAlive()) throw new IllegalStateException("a stream still open 150 s after the window");
    }
    CpuUse cpu = CpuUse.between(before, after, owners, hz, window.toNanos() / 1e9);
    return new StreamRow.EventCost(p.eventClients(), p.eventTokens(), streams.get(), e1 - e0, errors.get(), firstError.get(), cpu);
  }

  /**
   * N slow streams (1 token per {@code slowDelayMs}), opened at {@code openPerSecond}, with a short stream sent every
   * {@code probeEvery} beside them; the processes' RSS and threads (and the gateway's heap) at the second when the
   * most streams were open.
   */
  static StreamRow.Concurrent concurrent(Stack stack, String key, StreamPlan p, Map<Long, String> owners) throws InterruptedException {
    URI base = stack.baseUri();
    HttpClient metricsHttp = Api.client();
    byte[] slow = SseConnection.request(base, key, StreamLoad.body(stack.model(), p.slowTokens(), p.slowDelayMs()));
    byte[] quick = SseConnection.request(base, key, StreamLoad.body(stack.model(), 4, 0));
    Duration limit = Duration.ofMillis((long) p.slowTokens() * p.slowDelayMs()).plusSeconds(60);
    ConcurrentLinkedQueue<CompletableFuture<Outcome>> probes = new ConcurrentLinkedQueue<>();
    ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "bench-probe");
      t.setDaemon(true);
      return t;
    });
    List<CompletableFuture<Outcome>> all = new ArrayList<>(p.streams());
    long start = System.nanoTime();
    long lastOpened = Long.MAX_VALUE;
    // The processes are read every second until the last stream ended; the reading kept is the one taken when the
    // most streams were open (known only afterwards: a stream is open from its first byte to its end).
    List<Reading> readings = new ArrayList<>();
    Thread sampler = new Thread(() -> {
      try {
        while (!Thread.currentThread().isInterrupted()) {
          Thread.sleep(1000);
          long at = System.nanoTime();
          List<StreamRow.Peak> procs = peak(owners);
          Long heapNow = stack.metricsUri().map(u -> heapUsed(metricsHttp, u)).orElse(null);
          synchronized (readings) {
            readings.add(new Reading(at, procs, heapNow));
          }
        }
      } catch (InterruptedException stop) {
        // the streams have ended
      }
    }, "bench-peak");
    sampler.setDaemon(true);
    // Slow streams and probes on selector threads of their own: a probe's first byte is not read after a round of
    // ten thousand streams' events.
    try (SseCrowd slowStreams = new SseCrowd(base, "bench-slow-streams");
         SseCrowd probeStreams = new SseCrowd(base, "bench-probe-streams")) {
      sampler.start();
      timer.scheduleAtFixedRate(() -> probes.add(probeStreams.open(quick, Duration.ofSeconds(30))),
          0, p.probeEvery().toMillis(), TimeUnit.MILLISECONDS);
      for (int i = 0; i < p.streams(); i++) {
        ClosedLoop.sleepUntil(start + i * 1_000_000_000L / p.openPerSecond());
        all.add(slowStreams.open(slow, limit));
      }
      lastOpened = System.nanoTime();
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
      timer.shutdownNow();
      timer.awaitTermination(5, TimeUnit.SECONDS);
      CompletableFuture.allOf(probes.toArray(CompletableFuture[]::new)).join();
    } catch (IOException e) {
      throw new IllegalStateException("the bench's stream client did not start", e);
    } finally {
      timer.shutdownNow();
      sampler.interrupt();
      sampler.join(15_000);
    }
    List<Outcome> probeOutcomes = probes.stream().map(CompletableFuture::join).toList();
    Map<String, Integer> failures = new TreeMap<>();
    int completed = 0;
    List<Outcome> outcomes = all.stream().map(CompletableFuture::join).toList();
    for (Outcome o : outcomes) {
      if (o.ok()) completed++;
      else failures.merge(reason(o.error()), 1, Integer::sum);
    }
    Reading peak = new Reading(System.nanoTime(), List.of(), null);
    int openAtPeak = -1;
    synchronized (readings) {
      for (Reading r : readings) {
        int open = openAt(outcomes, r.at());
        if (open > openAtPeak) {
          openAtPeak = open;
          peak = r;
        }
      }
    }
    Histogram ttfb = new Histogram(Duration.ofMinutes(2).toNanos(), 3);
    Histogram whileOpening = new Histogram(Duration.ofMinutes(2).toNanos(), 3);
    Histogram onceOpened = new Histogram(Duration.ofMinutes(2).toNanos(), 3);
    long probeErrors = 0;
    String probeError = null;
    for (Outcome o : probeOutcomes) {
      if (o.ok()) {
        long nanos = Math.min(o.firstByte() - o.sent(), ttfb.getHighestTrackableValue());
        ttfb.recordValue(nanos);
        (o.sent() < lastOpened ? whileOpening : onceOpened).recordValue(nanos);
      } else {
        probeErrors++;
        if (probeError == null) probeError = o.error();
      }
    }
    printTimeline(start, probeOutcomes, outcomes);
    long[] files = openFiles();
    return new StreamRow.Concurrent(p.streams(), p.slowTokens(), p.slowDelayMs(), completed, failures, openAtPeak,
        probeOutcomes.size(), probeErrors, probeError, Latency.of(ttfb), Latency.of(whileOpening), Latency.of(onceOpened),
        peak.procs(), peak.heap(),
        fdNote(files[0], files[1], p.streams()));
  }

  /** The probes' time to first byte per 5 s of the scenario, beside the streams open then (stderr). */
  private static void printTimeline(long start, List<Outcome> probes, List<Outcome> streams) {
    Map<Long, List<Double>> buckets = new TreeMap<>();
    for (Outcome o : probes) {
      buckets.computeIfAbsent((o.sent() - start) / 5_000_000_000L, k -> new ArrayList<>()).add(o.ok() ? o.firstByteMs() : -1);
    }
    buckets.forEach((b, ttfb) -> {
      List<Double> sorted = ttfb.stream().sorted().toList();
      System.err.printf("bench:   %3d s: %5d streams open, probe TTFB p50 %8.1f ms, max %8.1f ms (%d probes)%n", b * 5,
          openAt(streams, start + b * 5_000_000_000L + 2_500_000_000L), sorted.get(sorted.size() / 2),
          sorted.get(sorted.size() - 1), sorted.size());
    });
  }

  /** The path's processes (and the gateway's heap) read at one instant of the slow-streams scenario. */
  private record Reading(long at, List<StreamRow.Peak> procs, Long heap) {}

  /** Streams open at {@code at}: they had their first byte and had not ended. */
  static int openAt(List<Outcome> outcomes, long at) {
    int open = 0;
    for (Outcome o : outcomes) {
      if (o.firstByte() != 0 && o.firstByte() <= at && o.end() > at) open++;
    }
    return open;
  }

  /** Errors grouped by their start: the status and the first words, not every stream's own id. */
  static String reason(String error) {
    String one = error.replace('\n', ' ').replaceFirst("after \\d+ events", "after N events")
        .replaceAll("\"id\":\"[^\"]*\"", "\"id\":…").replaceAll("\"created\":\\d+", "\"created\":…");
    return one.length() > 220 ? one.substring(0, 220) + "..." : one;
  }

  /** VmRSS and Threads of every process of the path, from /proc/<pid>/status. */
  static List<StreamRow.Peak> peak(Map<Long, String> owners) {
    List<StreamRow.Peak> out = new ArrayList<>();
    owners.forEach((pid, component) -> {
      try {
        String status = Files.readString(Path.of("/proc", Long.toString(pid), "status"));
        out.add(parseStatus(component, pid, status));
      } catch (IOException | RuntimeException gone) {
        // ended meanwhile
      }
    });
    out.sort((a, b) -> a.component().equals(b.component()) ? Long.compare(a.pid(), b.pid())
        : Integer.compare(CpuUse.COMPONENTS.indexOf(a.component()), CpuUse.COMPONENTS.indexOf(b.component())));
    return out;
  }

  static StreamRow.Peak parseStatus(String component, long pid, String status) {
    long rss = 0;
    int threads = 0;
    for (String line : status.split("\n")) {
      if (line.startsWith("VmRSS:")) rss = Long.parseLong(line.replaceAll("\\D+", ""));
      else if (line.startsWith("Threads:")) threads = Integer.parseInt(line.replaceAll("\\D+", ""));
    }
    return new StreamRow.Peak(component, pid, rss, threads);
  }

  /** The sum of {@code jvm_memory_used_bytes{area="heap",...}} in a Prometheus text page; null when there is none. */
  static Long heapFromMetrics(String page) {
    long sum = 0;
    boolean any = false;
    for (String line : page.split("\n")) {
      if (line.startsWith("jvm_memory_used_bytes{") && line.contains("area=\"heap\"")) {
        String value = line.substring(line.lastIndexOf('}') + 1).trim().split(" ")[0];
        sum += (long) Double.parseDouble(value);
        any = true;
      }
    }
    return any ? sum : null;
  }

  private static Long heapUsed(HttpClient http, URI metrics) {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(metrics).timeout(Duration.ofSeconds(10)).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? heapFromMetrics(r.body()) : null;
    } catch (IOException e) {
      return null;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return null;
    }
  }

  /** {soft, hard} "Max open files" of this JVM (whose children inherit it); -1 when unknown. */
  static long[] openFiles() {
    try {
      for (String line : Files.readAllLines(Path.of("/proc/self/limits"))) {
        if (line.startsWith("Max open files")) {
          String[] f = line.substring("Max open files".length()).trim().split("\\s+");
          return new long[] {parseLimit(f[0]), parseLimit(f[1])};
        }
      }
    } catch (IOException | RuntimeException e) {
      // not Linux
    }
    return new long[] {-1, -1};
  }

  private static long parseLimit(String s) {
    return s.equals("unlimited") ? Long.MAX_VALUE : Long.parseLong(s);
  }

  /**
   * Whether the open-files limit caps N: the busiest process is nginx, with two sockets per stream (client and
   * upstream); a JVM raises its soft limit to the hard one, nginx sets {@code worker_rlimit_nofile} (up to the hard
   * limit unless it runs as root).
   */
  static String fdNote(long soft, long hard, int streams) {
    if (hard < 0) return "open files limit unknown";
    long need = 2L * streams + 512;
    String limits = "open files (`ulimit -n`): soft " + limit(soft) + ", hard " + limit(hard);
    return need > hard
        ? limits + "; this caps the streams: about " + Report.fmt(need, 0) + " are needed (2 per stream in nginx)"
        : limits + "; enough for " + Report.fmt(streams, 0) + " streams (about " + Report.fmt(need, 0)
            + " needed, 2 per stream in nginx)";
  }

  private static String limit(long v) {
    return v == Long.MAX_VALUE ? "unlimited" : Report.fmt(v, 0);
  }

  private static double median(List<Double> sorted) {
    if (sorted.isEmpty()) return Double.NaN;
    int n = sorted.size();
    return n % 2 == 1 ? sorted.get(n / 2) : (sorted.get(n / 2 - 1) + sorted.get(n / 2)) / 2;
  }

}
