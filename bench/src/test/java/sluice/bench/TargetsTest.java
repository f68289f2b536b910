package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import sluice.bench.Targets.Target;
import sluice.bench.Targets.Verdict;

/** Issue 16's targets evaluated on synthetic runs: met, missed, not measured, and fewer streams than 10,000. */
class TargetsTest {
  static final List<String> ALL = List.of("direct", "embedded", "ssh");

  /** A 10 s window; CPU seconds per component, the gateway's thread groups, busy seconds of a 2-core machine. */
  static Row row(String path, int clients, long requests, double p50, double busy, Map<String, Double> cpu) {
    return new Row(path, clients, requests, 0, 10, new Latency(p50, p50 * 1.5, p50 * 3, p50 * 6),
        new CpuUse(cpu, Map.of(CpuUse.GATEWAY, Map.of("sluice-pekko.ac", cpu.getOrDefault(CpuUse.GATEWAY, 0.0) / 2,
            "C2 CompilerThre", cpu.getOrDefault(CpuUse.GATEWAY, 0.0) / 12)), busy, 20, 0, 10));
  }

  static StreamRow.Concurrent concurrent(int streams, Map<String, Integer> failures, int open, double ttfbP50, long heapMiB,
                                         long agentRssMiB, int agentThreads) {
    int failed = failures.values().stream().mapToInt(Integer::intValue).sum();
    return new StreamRow.Concurrent(streams, 12, 1000, streams - failed, failures, open, 300, 0, null,
        new Latency(ttfbP50, ttfbP50 * 2, ttfbP50 * 4, ttfbP50 * 8), new Latency(ttfbP50 * 2, 0, 0, 0),
        new Latency(ttfbP50 / 2, 0, 0, 0),
        List.of(new StreamRow.Peak(CpuUse.GATEWAY, 12, 1800 * 1024, 90), new StreamRow.Peak(CpuUse.AGENT, 13, agentRssMiB * 1024, agentThreads)),
        heapMiB * 1048576, "enough");
  }

  static StreamRow stream(String path, double tokensPerSecond, Map<String, Double> eventCpu, StreamRow.Concurrent c) {
    return new StreamRow(path, new StreamRow.LongStream(2000, 9, tokensPerSecond, tokensPerSecond * 0.8, 6.5, 12, 0, null),
        new StreamRow.EventCost(8, 500, 1000, 503_000, 0, null, new CpuUse(eventCpu, Map.of(), 20, 30, 0, 15)), c);
  }

  /** 200 answers per second through the warm-up: each value held for one 5-s bucket. */
  static List<Long> perSecond(long... bucketRates) {
    List<Long> out = new ArrayList<>();
    for (long r : bucketRates) out.addAll(Collections.nCopies(5, r));
    return out;
  }

  static Report.Data data(List<String> paths, List<Row> rows, List<StreamRow> streams, List<Startup> startups, List<String> notes) {
    Settings s = new Settings(paths, List.of(1, 64), Duration.ofSeconds(40), Duration.ofSeconds(10), Duration.ofSeconds(15),
        Duration.ofSeconds(5), List.of(), StreamPlan.of(false, null));
    return new Report.Data(ZonedDateTime.of(2026, 12, 6, 15, 0, 0, 0, ZoneOffset.UTC), Duration.ofMinutes(12), "bin/sluice bench",
        ReportTest.MACHINE, s, rows, List.of(), streams, startups, notes, "a | usage {}", true, Optional.empty());
  }

  static List<Row> missedRows() {
    return List.of(
        row("direct", 1, 14_000, 0.398, 10, Map.of(CpuUse.LOAD, 4.0, CpuUse.MOCK, 4.0)),
        row("direct", 64, 90_000, 6.5, 19, Map.of(CpuUse.LOAD, 9.0, CpuUse.MOCK, 8.0)),
        row("embedded", 1, 3_410, 1.650, 9, Map.of(CpuUse.GATEWAY, 1.87, CpuUse.AGENT, 0.72)),
        row("embedded", 64, 14_420, 39.6, 19.5, Map.of(CpuUse.GATEWAY, 8.0, CpuUse.AGENT, 3.0)),
        row("ssh", 1, 4_150, 1.664, 9, Map.of(CpuUse.GATEWAY, 2.5315, CpuUse.AGENT, 0.7885, CpuUse.SSHD, 0.166)),
        // 11,740 requests: gateway 0.610 ms, agent 0.190 ms, sshd 0.040 ms each; all processes 1.700 ms
        row("ssh", 64, 11_740, 47.6, 19.958, Map.of(CpuUse.LOAD, 2.0, CpuUse.GATEWAY, 7.1614, CpuUse.AGENT, 2.2306,
            CpuUse.SSHD, 0.4696, CpuUse.MOCK, 3.0)));
  }

  static Report.Data missed() {
    // per 1,000 of 503,000 events: gateway 6.00 ms, agent 3.00, sshd 2.00, mock-llm 5.00, load generator 3.98
    Map<String, Double> sshEvents = Map.of(CpuUse.LOAD, 2.0, CpuUse.GATEWAY, 3.018, CpuUse.AGENT, 1.509, CpuUse.SSHD, 1.006,
        CpuUse.MOCK, 2.515);
    return data(ALL, missedRows(), List.of(
        stream("embedded", 112_993, Map.of(CpuUse.GATEWAY, 5.03, CpuUse.AGENT, 2.515, CpuUse.MOCK, 2.515),
            concurrent(10_000, Map.of("HTTP 503: overloaded", 40, "IOException: reset", 10), 4_870, 142, 1300, 700, 4_887)),
        stream("ssh", 88_832, sshEvents, concurrent(10_000, Map.of(), 9_990, 20, 800, 300, 24))),
        List.of(new Startup("embedded", 2.10, 2.15, 503, 4.30, 6.0, 64, perSecond(600, 900, 1100, 1250, 1290, 1320, 1400, 1440))),
        List.of());
  }

  static Target find(List<Target> all, String goalStart, String path) {
    return all.stream().filter(t -> t.goal().startsWith(goalStart) && t.path().equals(path)).findFirst().orElseThrow();
  }

  @Test void everyTargetIsEvaluatedForEveryPathItNames() {
    List<Target> all = Targets.of(missed());
    assertEquals(19, all.size());
    assertEquals(Map.of("embedded", 9L, "ssh", 10L),
        all.stream().collect(Collectors.groupingBy(Target::path, Collectors.counting())));
  }

  @Test void aMissedTargetSaysByHowMuchAndWhyFromTheRunsNumbers() {
    List<Target> all = Targets.of(missed());
    Target added = find(all, "added p50", "embedded");
    assertEquals("+1.252 ms (p50 1.650 ms − direct 0.398 ms)", added.measured());
    assertEquals("**missed by 0.752 ms (2.5× over)**", added.verdictText());
    assertEquals("CPU per request at 1 connection: gateway 0.548 ms, agent 0.211 ms", added.why());
    assertEquals("CPU per request at 1 connection: gateway 0.610 ms, agent 0.190 ms, sshd 0.040 ms", find(all, "added p50", "ssh").why());

    Target rps = find(all, "≥ 6,000 requests/s", "ssh");
    assertEquals("1,174 requests/s", rps.measured());
    assertEquals("**missed by 4,826 requests/s (5.1× short)**", rps.verdictText());
    assertEquals("each request cost 1.700 ms of CPU over all processes, cores 100 % busy: 2 cores / 1.700 ms caps at "
        + "~1,176/s; gateway + agent + sshd 0.840 ms of it", rps.why());
    Target cpu = find(all, "CPU per request", "ssh");
    assertEquals("**missed by 0.640 ms (4.2× over)**", cpu.verdictText());
    assertEquals("gateway 0.610 ms, agent 0.190 ms, sshd 0.040 ms; the gateway's busiest threads: `sluice-pekko.ac` "
        + "0.305 ms, `C2 CompilerThre` 0.051 ms", cpu.why());

    Target tokens = find(all, "one long stream", "ssh");
    assertEquals("88,832 tokens/s (median of 9; slowest 71,066)", tokens.measured());
    assertEquals("**missed by 161,168 tokens/s (2.8× short)**", tokens.verdictText());
    assertTrue(tokens.why().startsWith("CPU per 1,000 events (streams back to back): gateway 6.00 ms, mock-llm 5.00 ms, "
        + "load generator 3.98 ms, agent 3.00 ms, sshd 2.00 ms; at 6.00 ms per 1,000 one core of the gateway carries ~166,667 events/s"), tokens.why());
    Target events = find(all, "≤ 3 ms CPU", "ssh");
    assertEquals("11.00 ms", events.measured());
    assertEquals("**missed by 8.00 ms (3.7× over)**", events.verdictText());
    assertTrue(events.why().startsWith("gateway 6.00 ms, agent 3.00 ms, sshd 2.00 ms"), events.why());
  }

  @Test void slowStreamsNameTheBoundExceededAndTheFailures() {
    List<Target> all = Targets.of(missed());
    Target complete = find(all, "10,000 slow streams: all complete", "embedded");
    assertEquals("9,950 of 10,000 completed", complete.measured());
    assertEquals("**missed by 50 failed streams**", complete.verdictText());
    assertEquals("failed: 40 × `HTTP 503: overloaded`; 10 × `IOException: reset`; 4,870 of 10,000 streams open at the peak", complete.why());
    assertEquals("**missed by 92.0 ms (2.8× over)**", find(all, "10,000 slow streams: probe", "embedded").verdictText());
    Target heap = find(all, "10,000 slow streams: gateway heap", "embedded");
    assertEquals("**missed by 276 MiB (1.3× over)**", heap.verdictText());
    assertEquals("4,870 of 10,000 streams open at the peak (267 MiB of heap per 1,000 of them, the baseline included); "
        + "gateway RSS 1,800 MiB, 90 threads", heap.why());
    Target probe = find(all, "10,000 slow streams: probe", "embedded");
    assertEquals("p50 142.0 ms", probe.measured());
    assertEquals("p99 568.0 ms, max 1,136.0 ms; p50 284.0 ms while the streams were being opened, 71.0 ms once all were; "
        + "300 probes, 0 failed; 4,870 of 10,000 streams open at the peak", probe.why());
    assertEquals("**missed by 188 MiB (1.4× over)**", find(all, "10,000 slow streams: agent RSS", "embedded").verdictText());
    Target threads = find(all, "10,000 slow streams: agent threads", "embedded");
    assertEquals("**missed by 4,823 threads (76.4× over)**", threads.verdictText());
    assertEquals("1 agent process: 4,887 threads with 4,870 streams open, 1.00 per open stream", threads.why());
    assertEquals("1 agent process: 24 threads with 9,990 streams open", find(all, "10,000 slow streams: agent threads", "ssh").why());
    // ssh: every bound kept at 10,000 streams
    assertTrue(all.stream().filter(t -> t.goal().startsWith("10,000") && t.path().equals("ssh")).allMatch(t -> t.verdict() == Verdict.MET));
  }

  @Test void startTimesTheFirst200AndTheFirstBucketAtNinetyPercentOfTheSteadyRate() {
    List<Target> all = Targets.of(missed());
    Target first = find(all, "first 200", "embedded");
    assertEquals("after 4.30 s", first.measured());
    assertEquals("**missed by 1.30 s (1.4× over)**", first.verdictText());
    assertEquals("the first request the gateway answered was sent at 2.10 s (every earlier one was refused) and answered "
        + "HTTP 503 at 2.15 s; the first 200 came at 4.30 s", first.why());
    // 90 % of the 64-client row's 1,442/s = 1,298/s: first reached by the sixth bucket (1,320/s), 6 + 30 s after start
    Target steady = find(all, "steady throughput", "embedded");
    assertEquals("1,298 requests/s (90 % of the measured 64-connection row's 1,442) reached in the 5-s bucket ending 36.00 s after start", steady.measured());
    assertEquals("**missed by 6.0 s (1.2× over)**", steady.verdictText());
    assertEquals("requests/s per 5 s at 64 connections from 6.00 s after start (the path warm-up): 600, 900, 1,100, 1,250, 1,290, 1,320", steady.why());
  }

  @Test void aRateNeverReachedInALongWarmUpIsMissedByMoreThanItsEnd() {
    Report.Data d = missed();
    Startup slow = new Startup("embedded", 2.1, 2.8, 200, 2.8, 5.0, 64, perSecond(600, 700, 800, 900, 1000, 1100, 1200, 1250));
    Target steady = find(Targets.of(data(ALL, d.rows(), d.streams(), List.of(slow), List.of())), "steady throughput", "embedded");
    assertEquals(Verdict.MISSED, steady.verdict());
    assertEquals("**missed by more than 15.0 s**", steady.verdictText());
    assertTrue(steady.measured().endsWith("not reached by the warm-up's end, 45.00 s after start"), steady.measured());
    Target first = find(Targets.of(data(ALL, d.rows(), d.streams(), List.of(slow), List.of())), "first 200", "embedded");
    assertEquals(Verdict.MET, first.verdict());
    assertTrue(first.why().endsWith("was sent at 2.10 s (every earlier one was refused) and answered 200"), first.why());
  }

  static Report.Data met(int streams, int embeddedAgentThreads) {
    List<Row> rows = List.of(
        row("direct", 1, 14_000, 0.398, 10, Map.of(CpuUse.MOCK, 4.0)),
        row("direct", 64, 90_000, 6.5, 19, Map.of(CpuUse.MOCK, 8.0)),
        row("embedded", 1, 10_000, 0.700, 9, Map.of(CpuUse.GATEWAY, 1.0, CpuUse.AGENT, 0.4)),
        row("embedded", 64, 80_000, 8.0, 19, Map.of(CpuUse.GATEWAY, 8.0, CpuUse.AGENT, 3.0)),
        row("ssh", 1, 10_000, 0.800, 9, Map.of(CpuUse.GATEWAY, 1.0, CpuUse.AGENT, 0.4, CpuUse.SSHD, 0.2)),
        row("ssh", 64, 70_000, 9.0, 19, Map.of(CpuUse.GATEWAY, 7.0, CpuUse.AGENT, 2.8, CpuUse.SSHD, 1.4)));
    Map<String, Double> cheap = Map.of(CpuUse.GATEWAY, 0.6, CpuUse.AGENT, 0.4, CpuUse.SSHD, 0.2, CpuUse.MOCK, 2.0);
    return data(ALL, rows, List.of(
        stream("embedded", 300_000, cheap, concurrent(streams, Map.of(), streams, 20, 700, 300, embeddedAgentThreads)),
        stream("ssh", 260_000, cheap, concurrent(streams, Map.of(), streams, 25, 750, 320, 30))),
        List.of(new Startup("embedded", 1.2, 2.5, 200, 2.5, 3.0, 64, perSecond(5000, 7500, 7900, 8000))), List.of());
  }

  @Test void aRunThatMeetsEveryTargetSaysSo() {
    List<Target> all = Targets.of(met(10_000, 24));
    assertTrue(all.stream().allMatch(t -> t.verdict() == Verdict.MET), Targets.console(all));
    StringBuilder b = new StringBuilder();
    Targets.section(b, met(10_000, 24));
    assertTrue(b.toString().contains("19 of 19 met, 0 missed, 0 not measured."), b.toString());
    assertFalse(b.toString().contains("this run opened"), b.toString());
    // 7,500/s in the second bucket: 90 % of 8,000 within 3 + 10 s
    assertEquals("7,200 requests/s (90 % of the measured 64-connection row's 8,000) reached in the 5-s bucket ending 13.00 s after start",
        find(all, "steady throughput", "embedded").measured());
  }

  @Test void fewerStreamsThanTenThousandAreNotMeasuredThereUnlessABoundIsAlreadyExceeded() {
    List<Target> all = Targets.of(met(1_000, 1_040));
    Target within = find(all, "10,000 slow streams: gateway heap", "ssh");
    assertEquals(Verdict.NOT_MEASURED, within.verdict());
    assertEquals("750 MiB in use (measured at 1,000 streams, the target is at 10,000)", within.measured());
    assertEquals("not measured at 10,000 streams", within.verdictText());
    assertEquals(Verdict.NOT_MEASURED, find(all, "10,000 slow streams: all complete", "embedded").verdict());
    Target threads = find(all, "10,000 slow streams: agent threads", "embedded");
    assertEquals("1,040 threads (measured at 1,000 streams, the target is at 10,000)", threads.measured());
    assertEquals("**missed by 976 threads (16.3× over) at 1,000 streams already**", threads.verdictText());
    // none of the slow-stream rows is "met" at 1,000 streams
    assertTrue(all.stream().filter(t -> t.goal().startsWith("10,000")).noneMatch(t -> t.verdict() == Verdict.MET));
    StringBuilder b = new StringBuilder();
    Targets.section(b, met(1_000, 1_040));
    assertTrue(b.toString().contains("**The slow-stream targets are at 10,000 streams; this run opened 1,000** (`--streams 1000`)"), b.toString());
    assertTrue(b.toString().contains("9 of 19 met, 1 missed, 9 not measured."), b.toString());
  }

  @Test void aPathNotRunOrThatFailedIsNotMeasuredWithTheReason() {
    Report.Data m = missed();
    List<Row> noSsh = m.rows().stream().filter(r -> !r.path().equals("ssh")).toList();
    List<StreamRow> noSshStreams = m.streams().stream().filter(s -> !s.path().equals("ssh")).toList();
    List<Target> failed = Targets.of(data(ALL, noSsh, noSshStreams, m.startups(),
        List.of("ssh path: not measured: no HPC sandbox: run bin/sluice bench as root")));
    List<Target> ssh = failed.stream().filter(t -> t.path().equals("ssh")).toList();
    assertEquals(10, ssh.size());
    assertTrue(ssh.stream().allMatch(t -> t.verdict() == Verdict.NOT_MEASURED && t.measured().equals("not measured")
        && t.why().equals("ssh path: not measured: no HPC sandbox: run bin/sluice bench as root")), Targets.console(ssh));
    List<Target> notRun = Targets.of(data(List.of("direct", "embedded"), noSsh, noSshStreams, m.startups(), List.of()));
    assertEquals("the ssh path was not run (`--paths`)", find(notRun, "added p50", "ssh").why());
    // one scenario failed: its note, the path's other targets stay
    StreamRow broken = new StreamRow("embedded", null, m.streams().get(0).events(), null);
    List<Target> one = Targets.of(data(ALL, m.rows(), List.of(broken, m.streams().get(1)), m.startups(),
        List.of("embedded path, 64 clients: 3 errors", "embedded path, slow streams: failed: java.lang.IllegalStateException: boom")));
    assertEquals("embedded path, slow streams: failed: java.lang.IllegalStateException: boom",
        find(one, "10,000 slow streams: agent threads", "embedded").why());
    assertEquals("long stream: no result on the embedded path", find(one, "one long stream", "embedded").why());
    assertEquals(Verdict.MISSED, find(one, "added p50", "embedded").verdict());
    // no start readings: the embedded gateway did not come up
    assertEquals(Verdict.NOT_MEASURED, find(Targets.of(data(ALL, m.rows(), m.streams(), List.of(), List.of())), "first 200", "embedded").verdict());
  }

  @Test void bucketsLeaveOutAPartialLastOne() {
    List<Long> seconds = new ArrayList<>(perSecond(100, 200));
    seconds.add(9999L);
    Startup u = new Startup("embedded", 1, 1, 200, 1, 4.0, 64, seconds);
    assertEquals(List.of(100.0, 200.0), u.bucketRates());
    assertEquals(14.0, u.bucketEnd(1));
    assertEquals(1, u.firstBucketReaching(150).getAsInt());
  }

  @Test void markdownHasTheTargetsTableBeforeTheNotes() {
    Report.Data d = missed();
    String md = Report.markdown(data(ALL, d.rows(), d.streams(), d.startups(), List.of("ssh path, long stream: 1 failed; first: x")));
    assertTrue(md.contains("| goal | path | measured | met? | why (this run's numbers) |"), md);
    assertTrue(md.contains("| ≥ 6,000 requests/s at 64 connections | ssh | 1,174 requests/s | **missed by 4,826 requests/s (5.1× short)** | "
        + "each request cost 1.700 ms of CPU over all processes"), md);
    assertTrue(md.indexOf("## Targets") < md.indexOf("**Not everything could be measured:**"), md);
    assertTrue(md.contains("5 of 19 met, 14 missed, 0 not measured."), md);
  }
}
