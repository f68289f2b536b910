package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class ReportTest {
  static final Settings SETTINGS = new Settings(List.of("direct", "embedded", "ssh"), List.of(1, 64),
      Duration.ofSeconds(40), Duration.ofSeconds(5), Duration.ofSeconds(15), Duration.ofSeconds(5), List.of("--tokens", "16", "--token-delay-ms", "0"), StreamPlan.of(false, null));
  static final Machine MACHINE = new Machine(2, "23.5 GiB", "Some CPU", "openjdk version \"17\"", "6.1", "OpenSSH_9.2p1",
      "slurm 22.05.8");

  static Row row(String path, int clients, long requests, double p50, double p99, Map<String, Double> cpu) {
    return new Row(path, clients, requests, 0, 10, new Latency(p50, p50 * 1.5, p99, p99 * 2),
        new CpuUse(cpu, Map.of(CpuUse.GATEWAY, Map.of("sluice-pekko.ac", 6.0, "C2 CompilerThre", 1.0)),
            Map.of(CpuUse.GATEWAY, Map.of("sluice-pekko.ac", requests * 11)), 18, 20, 0, 10));
  }

  static List<Row> rows(double sshP50, long ssh64Requests) {
    return List.of(
        row("direct", 1, 20000, 0.400, 0.900, Map.of(CpuUse.LOAD, 5.0, CpuUse.MOCK, 4.0, CpuUse.OTHER, 1.0)),
        row("direct", 64, 80000, 8.0, 20.0, Map.of(CpuUse.LOAD, 9.0, CpuUse.MOCK, 8.0, CpuUse.OTHER, 1.0)),
        row("ssh", 1, 4000, sshP50, 3.0, Map.of(CpuUse.LOAD, 1.0, CpuUse.GATEWAY, 4.0, CpuUse.SSHD, 2.0,
            CpuUse.AGENT, 3.0, CpuUse.MOCK, 1.0, CpuUse.OTHER, 1.0)),
        row("ssh", 64, ssh64Requests, 40.0, 90.0, Map.of(CpuUse.LOAD, 2.0, CpuUse.GATEWAY, 8.0, CpuUse.SSHD, 3.0,
            CpuUse.AGENT, 4.0, CpuUse.MOCK, 1.0, CpuUse.OTHER, 9.0)));
  }

  @Test void addedLatencyIsAgainstTheDirectPathAtTheSameConcurrency() {
    List<Row> rows = rows(2.0, 12000);
    assertEquals("+1.600", Report.added(rows, rows.get(2), true));
    assertEquals("+70.000", Report.added(rows, rows.get(3), false));
    assertEquals("–", Report.added(rows, rows.get(0), true));
  }

  @Test void markdownHasTheResultsTheCpuTableTheMachineAndTheCommand() {
    String md = Report.markdown(new Report.Data(ZonedDateTime.of(2025, 11, 22, 23, 30, 0, 0, ZoneOffset.UTC),
        Duration.ofSeconds(200), "bin/sluice bench", MACHINE, SETTINGS, rows(2.0, 12000),
        List.of(new Idle("ssh", new CpuUse(Map.of(CpuUse.GATEWAY, 0.5, CpuUse.AGENT, 0.1), Map.of(), 1, 10, 0, 5))),
        List.of(), List.of(), List.of("embedded path: not measured: boom"),
        "a b c | usage {}", true, Optional.of("/tmp/sandbox")));
    assertTrue(md.contains("2025-11-22 23:30"), md);
    assertTrue(md.contains("| ssh | 64 | 12,000 | 1,200 | 40.000 | 60.000 | 90.000 | 180.000 | +32.000 | +70.000 | 0 |"), md);
    assertTrue(md.contains("## Targets\n\nIssue 16's targets, for a 2-core machine (this machine has 2 cores)."), md);
    assertTrue(md.contains("| ≥ 6,000 requests/s at 64 connections | ssh | 1,200 requests/s | **missed by 4,800 requests/s (5.0× short)** |"), md);
    assertTrue(md.contains("The targets' goals are issue 16's; their *why* and the CPU section's caps are arithmetic"), md);
    assertTrue(md.contains("embedded path: not measured: boom"), md);
    // agent on the login node: 3 s / 4,000 requests = 0.750 s per 1,000
    assertTrue(md.contains("0.750 CPU seconds per 1,000 requests at 1 client"), md);
    assertTrue(md.contains("| cores (`nproc`) | 2 |"), md);
    assertTrue(md.contains("This run took 3.3 minutes."), md);
    assertTrue(md.contains("```\nbin/sluice bench\n```"), md);
    assertTrue(md.contains("| ssh | 64 | gateway | `sluice-pekko.ac` | 60 % | 0.500 | 11.00 |"), md);
    assertTrue(md.contains("| ssh | 10 % | 2 % | 10 % |"), md);
  }

  @Test void interferenceIsReportedAboveTenPercentOfTheMachine() {
    // ssh at 64 clients: other processes 9 s of 20 s core time
    assertTrue(Report.interference(rows(2.0, 12000)).orElseThrow().contains("reached 45 % of all cores' time in the window of ssh at 64 clients"));
    assertTrue(Report.interference(rows(2.0, 12000).subList(0, 2)).isEmpty());
  }

  @Test void largestNamesTheThreeBiggestConsumersPerRequest() {
    Row r = rows(2.0, 12000).get(3);
    assertEquals("gateway 0.667 ms, agent 0.333 ms, sshd 0.250 ms", Report.largest(r));
  }
}
