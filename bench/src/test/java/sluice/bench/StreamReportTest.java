package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StreamReportTest {
  static StreamRow row(String path, Map<String, Double> cpu, Long heap, Map<String, Integer> failures) {
    return new StreamRow(path,
        new StreamRow.LongStream(2000, 9, 120_000, 90_000, 6.5, 12.25, 0, null),
        new StreamRow.EventCost(8, 500, 1000, 503_000, 0, null, new CpuUse(cpu, Map.of(), 20, 30, 0, 15)),
        new StreamRow.Concurrent(1000, 12, 1000, 1000 - failures.values().stream().mapToInt(i -> i).sum(), failures, 998,
            80, 0, null, new Latency(3.5, 4, 21.75, 40), new Latency(4, 5, 22, 40), new Latency(3, 4, 5, 6),
            List.of(new StreamRow.Peak(CpuUse.LOAD, 11, 300 * 1024, 30), new StreamRow.Peak(CpuUse.GATEWAY, 12, 512 * 1024, 1040)),
            heap, "open files (`ulimit -n`): soft 20,000, hard 20,000; enough for 1,000 streams"));
  }

  static Report.Data data(List<StreamRow> streams) {
    return new Report.Data(ZonedDateTime.of(2026, 12, 6, 15, 0, 0, 0, ZoneOffset.UTC), Duration.ofMinutes(11),
        "bin/sluice bench", ReportTest.MACHINE, ReportTest.SETTINGS, ReportTest.rows(2.0, 12000), List.of(), streams,
        List.of(), List.of(), "a b | usage {}", true, Optional.empty());
  }

  @Test void streamsSectionHasTheThreeScenariosPerPath() {
    String md = Report.markdown(data(List.of(
        row("nginx", Map.of(CpuUse.LOAD, 2.0, CpuUse.NGINX, 0.2, CpuUse.MOCK, 3.0), null, Map.of()),
        row("embedded", Map.of(CpuUse.LOAD, 2.0, CpuUse.GATEWAY, 5.03, CpuUse.AGENT, 2.515, CpuUse.MOCK, 3.0), 200L * 1048576,
            Map.of("HTTP 503: overloaded", 3, "IOException: reset", 1)))));
    assertTrue(md.contains("## Streams"), md);
    // one long stream: median, slowest, first event
    assertTrue(md.contains("| nginx | 9 | 120,000 | 90,000 | 6.500 | 12.250 | 0 |"), md);
    // CPU per 1,000 events: 5.03 s / 503,000 events = 10 ms; nginx 0.2 s -> 0.40 ms; no agent cell on nginx
    assertTrue(md.contains("| path | streams | events | events/s | load generator | nginx | gateway | agent | mock-llm | whole machine | failed |"), md);
    assertTrue(md.contains("| nginx | 1,000 | 503,000 | 33,533 | 3.98 | 0.40 |  |  | 5.96 | 39.76 | 0 |"), md);
    assertTrue(md.contains("| embedded | 1,000 | 503,000 | 33,533 | 3.98 |  | 10.00 | 5.00 | 5.96 | 39.76 | 0 |"), md);
    // slow streams: completed, failed, probe TTFB
    assertTrue(md.contains("### 1,000 slow streams at once"), md);
    assertTrue(md.contains("| embedded | 1,000 | 996 | 4 | 998 | 80 | 3.500 | 21.750 | 40.000 | 0 |"), md);
    assertTrue(md.contains("Failed streams on embedded: 3 × `HTTP 503: overloaded`; 1 × `IOException: reset`."), md);
    // the peak: RSS and threads per process, the gateway's heap
    assertTrue(md.contains("| embedded | gateway | 12 | 512 | 1040 |"), md);
    assertTrue(md.contains("| embedded | gateway heap in use | | 200 | |"), md);
    assertFalse(md.contains("| nginx | gateway heap in use"), md);
    assertTrue(md.contains("File descriptors: open files (`ulimit -n`): soft 20,000"), md);
  }

  @Test void aScenarioThatFailedIsNotMeasuredAndTheRestStays() {
    StreamRow full = row("direct", Map.of(CpuUse.LOAD, 1.0, CpuUse.MOCK, 1.0), null, Map.of());
    StreamRow broken = new StreamRow("embedded", null, null, full.concurrent());
    String md = Report.markdown(data(List.of(full, broken)));
    assertTrue(md.contains("| embedded | not measured |"), md);
    assertFalse(md.contains("| embedded | 1,000 | 503,000"), md);
    assertTrue(md.contains("| embedded | 1,000 | 1,000 | 0 | 998 |"), md);
  }

  @Test void saysWhenTheLoadGeneratorCostMoreThanThePath() {
    String fine = Report.markdown(data(List.of(row("nginx", Map.of(CpuUse.LOAD, 2.0, CpuUse.NGINX, 0.2, CpuUse.MOCK, 3.0,
        CpuUse.OTHER, 9.0), null, Map.of()))));
    assertTrue(fine.contains("The load generator used less CPU per event than the path it measured"), fine);
    String heavy = Report.markdown(data(List.of(
        row("direct", Map.of(CpuUse.LOAD, 3.0, CpuUse.MOCK, 2.5), null, Map.of()),
        row("nginx", Map.of(CpuUse.LOAD, 2.0, CpuUse.NGINX, 0.2, CpuUse.MOCK, 3.0), null, Map.of()))));
    assertTrue(heavy.contains("**The load generator used as much CPU per event as the path it measured, or more, on direct**"), heavy);
  }

    @Test void noStreamsNoSection() {
    assertFalse(Report.markdown(data(List.of())).contains("## Streams"));
  }

  @Test void consoleSaysTokensPerSecondAndProbeLatency() {
    String c = StreamReport.console(row("nginx", Map.of(CpuUse.NGINX, 0.2), null, Map.of()));
    assertTrue(c.contains("one 2,000-token stream: 120,000 tokens/s (p50 of 9), first SSE event 6.500 ms"), c);
    assertTrue(c.contains("CPU ms per 1,000 events: nginx 0.40"), c);
    assertTrue(c.contains("1,000 slow streams: 1,000 completed, 0 failed; probe TTFB p50 3.500 ms, p99 21.750 ms"), c);
  }
}
