package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import sluice.bench.LifecycleReport.Data;
import sluice.bench.LifecycleReport.RecoveryRun;
import sluice.bench.LifecycleReport.RenewalResult;
import sluice.bench.LifecycleReport.ScaleUpRun;

class LifecycleReportTest {
  static final Instant T = Instant.parse("2026-11-23T02:00:00Z");

  static ScaleUpRun scaleUp(double burstToDecided) {
    return new ScaleUpRun(2.5, 0, burstToDecided, burstToDecided + 60, burstToDecided + 120, burstToDecided + 20,
        Double.NaN, 0, null, 5.9);
  }

  static RenewalResult renewal(long failed, long overlapMs, int agentJobs) {
    Renewals.Renewal one = new Renewals.Renewal("5", "6", T, T.plusSeconds(4), Duration.ofMillis(overlapMs), Duration.ofSeconds(3));
    Renewals.Renewal two = new Renewals.Renewal("6", "7", T.plusSeconds(13), T.plusSeconds(17), Duration.ofMillis(12), Duration.ofSeconds(3));
    return new RenewalResult(4, 10, 31.5, 900, failed, failed == 0 ? List.of() : List.of("2026-11-23T02:00:01Z HTTP 502: gone"),
        new Renewals.Group(250, failed, 130.1, 300.8, 367.4), new Renewals.Group(650, 0, 144.0, 299.6, 378.3),
        List.of(one, two), List.of("5", "6", "7"), agentJobs, 3, 0, 310, 0);
  }

  static RecoveryRun recovery(long newSubmissions, String after) {
    return new RecoveryRun(13.07, 12.98, 10.2, 87, newSubmissions, 7, 7 + (int) newSubmissions, List.of("7"), List.of(after));
  }

  static Data data(List<ScaleUpRun> ups, RenewalResult renewal, List<RecoveryRun> recoveries, List<String> notes) {
    return new Data(ZonedDateTime.of(2026, 11, 23, 2, 0, 0, 0, ZoneOffset.UTC), Duration.ofSeconds(170),
        "bin/sluice bench --lifecycle", ReportTest.MACHINE, "3.86 4.98 4.74", "5.49 5.22 4.85", LifecycleBench.Plan.FULL,
        ups, renewal, recoveries, notes, List.of());
  }

  static Data good() {
    return data(List.of(scaleUp(88), scaleUp(31), scaleUp(40)), renewal(0, 3, 3),
        List.of(recovery(0, "7"), recovery(0, "7"), recovery(0, "7")), List.of());
  }

  @Test void everyTargetAndCheckIsMetInAGoodRun() {
    Data d = good();
    assertTrue(LifecycleReport.targets(d).stream().allMatch(t -> t.met().equals(Optional.of(true))), LifecycleReport.targets(d).toString());
    assertTrue(LifecycleReport.checks(d).stream().allMatch(t -> t.met().equals(Optional.of(true))));
    assertTrue(LifecycleReport.allMet(d));
    assertEquals("burst sent → decided: max 88 ms over 3 runs", LifecycleReport.targets(d).get(0).measured());
  }

  @Test void aSlowDecisionAFailedRequestAndANewSubmissionAreEachMissed() {
    Data d = data(List.of(scaleUp(88), scaleUp(2400)), renewal(1, 3, 3), List.of(recovery(0, "7"), recovery(1, "8"), recovery(0, "8")), List.of());
    List<LifecycleReport.Target> t = LifecycleReport.targets(d);
    assertEquals(Optional.of(false), t.get(0).met());
    assertEquals(Optional.of(false), t.get(1).met());
    assertEquals("1 failed of 900 requests across 2 renewals", t.get(1).measured());
    assertEquals(Optional.of(false), t.get(2).met());
    assertTrue(t.get(2).measured().startsWith("1 new submissions over 3 restarts"));
    assertFalse(LifecycleReport.allMet(d));
  }

  @Test void aGapOrADuplicateJobFailsTheRenewalChecks() {
    List<LifecycleReport.Target> c = LifecycleReport.checks(data(List.of(), renewal(0, -1500, 4), List.of(), List.of()));
    assertEquals(Optional.of(false), c.get(0).met());
    assertEquals("-1,500 ms, 12 ms", c.get(0).measured());
    assertEquals(Optional.of(false), c.get(1).met());
    assertEquals("4 jobs, expected 3", c.get(1).measured());
  }

  @Test void aStepThatDidNotRunIsNotMeasuredRatherThanMet() {
    Data d = data(List.of(), null, List.of(), List.of("renewal step failed: boom"));
    assertTrue(LifecycleReport.targets(d).stream().allMatch(t -> t.met().isEmpty() && t.measured().equals("not measured")));
    assertEquals(List.of(), LifecycleReport.checks(d));
    assertFalse(LifecycleReport.allMet(d));
    String md = LifecycleReport.markdown(d);
    assertTrue(md.contains("- renewal step failed: boom"), md);
    assertTrue(md.contains("## 2. Renewal under load\n\nNot measured."), md);
  }

  @Test void markdownHasTheTargetsTheSamplesThePerRenewalRowsAndTheMachine() {
    String md = LifecycleReport.markdown(good());
    assertTrue(md.contains("2026-11-23 02:00"), md);
    assertTrue(md.contains("| Scale-up decided ≤ 2 s after a demand step | burst sent → decided: max 88 ms over 3 runs | met |"), md);
    assertTrue(md.contains("| **demand step → decided**: burst sent → `scaling.decided_at` | ms | 31 | 40 | 88 | 88, 31, 40 |"), md);
    assertTrue(md.contains("| burst sent → the new replica's `ready_at` | ms | – | – | – | – |"), md);
    assertTrue(md.contains("`demand_at` equals `decided_at` in every run"), md);
    assertTrue(md.contains("| 1 | 5 | 6 | 3.0 s | 4.0 s | 3 ms |"), md);
    assertTrue(md.contains("| during renewal windows | 250 | 0 | 130.1 | 300.8 | 367.4 |"), md);
    assertTrue(md.contains("| process start → the admin API answers (JVM and gateway started, HTTP bound) | s | 10.20 | 10.20 | 10.20 | 10.20, 10.20, 10.20 |"), md);
    assertTrue(md.contains("| admin API answers → first successful completion (agent connected, job re-listed and probed) | s | 2.78 | 2.78 | 2.78 |"), md);
    assertTrue(md.contains("| 1 | 87 | 0 | 7 → 7 | 7 → 7 |"), md);
    assertTrue(md.contains("| cores (`nproc`) | 2 |"), md);
    assertTrue(md.contains("```\nbin/sluice bench --lifecycle\n```"), md);
    assertTrue(md.contains("This run took 2.8 minutes."), md);
  }

  @Test void aBusyMachineIsSaidToBeShared() {
    assertTrue(LifecycleReport.shared(good()).orElseThrow().startsWith("**Shared machine.** The load average was 3.86 on 2 cores"));
    Data quiet = new Data(good().at(), good().took(), "x", ReportTest.MACHINE, "0.20 0.10 0.05", "0.30 0.1 0.1",
        LifecycleBench.Plan.FULL, List.of(), null, List.of(), List.of(), List.of());
    assertEquals(Optional.empty(), LifecycleReport.shared(quiet));
  }

  @Test void consoleLinesHaveNoMarkdownEmphasis() {
    String c = LifecycleReport.console(data(List.of(scaleUp(2400)), null, List.of(), List.of()));
    assertTrue(c.contains("-> NOT MET"), c);
    assertFalse(c.contains("**"), c);
  }
}
