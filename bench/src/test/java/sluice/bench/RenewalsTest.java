package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;

class RenewalsTest {
  static final Instant T = Instant.parse("2026-11-23T02:00:00Z");

  static Instant at(double seconds) {
    return T.plusMillis(Math.round(seconds * 1000));
  }

  /** A 24-second job submitted at {@code s}, started 1 s later; null times for what did not happen. */
  static Renewals.JobTrack job(String id, double s, Double ready, Double draining, Double ended) {
    return new Renewals.JobTrack(id, at(s), at(s + 1), at(s + 25), ready == null ? null : at(ready),
        draining == null ? null : at(draining), ended == null ? null : at(ended));
  }

  // Job 1 serves from 3 s; its renewal is due at 13 s; job 2 is ready at 16 s, job 1 drains at 16.02 s, gone at 17 s.
  static final List<Renewals.JobTrack> TWO_RENEWALS = List.of(
      job("3", 25, 29.0, null, null),
      job("1", 0, 3.0, 16.02, 17.0),
      job("2", 13, 16.0, 29.05, 30.5));

  @Test void eachDrainedJobIsPairedWithTheNextJobThatBecameReady() {
    List<Renewals.Renewal> r = Renewals.of(TWO_RENEWALS);
    assertEquals(2, r.size());
    assertEquals("1", r.get(0).oldJob());
    assertEquals("2", r.get(0).newJob());
    assertEquals(Duration.ofMillis(20), r.get(0).overlap(), "drain 20 ms after the replacement was ready");
    assertEquals(Duration.ofSeconds(3), r.get(0).startup());
    assertEquals(at(13), r.get(0).windowStart());
    assertEquals(at(17), r.get(0).windowEnd());
    assertEquals("3", r.get(1).newJob());
    assertEquals(Duration.ofMillis(50), r.get(1).overlap());
  }

  @Test void aDrainBeforeTheReplacementIsReadyIsANegativeOverlap() {
    List<Renewals.Renewal> r = Renewals.of(List.of(job("1", 0, 3.0, 15.0, 16.0), job("2", 13, 16.5, null, null)));
    assertEquals(Duration.ofMillis(-1500), r.get(0).overlap());
  }

  @Test void aReplacementThatNeverBecameReadyIsSkippedForTheNextOne() {
    List<Renewals.Renewal> r = Renewals.of(List.of(job("1", 0, 3.0, 20.0, 21.0), job("2", 13, null, null, 18.0),
        job("3", 15, 19.0, null, null)));
    assertEquals("3", r.get(0).newJob());
    assertEquals(at(13), r.get(0).windowStart(), "the window opens with the first replacement submitted");
    assertEquals(Duration.ofSeconds(1), r.get(0).overlap());
  }

  @Test void noReplacementAtAllHasNoOverlap() {
    List<Renewals.Renewal> r = Renewals.of(List.of(job("1", 0, 3.0, 20.0, null)));
    assertNull(r.get(0).overlap());
    assertNull(r.get(0).newJob());
    assertEquals(at(20), r.get(0).windowEnd(), "not seen gone: the window ends at the drain");
  }

  @Test void requestsOverlappingAWindowCountAsDuringARenewal() {
    List<Renewals.Renewal> r = Renewals.of(TWO_RENEWALS);
    List<Renewals.Request> requests = List.of(
        new Renewals.Request(at(12.9), at(13.1), false, null),        // straddles the window's start
        new Renewals.Request(at(16.0), at(16.3), true, null),
        new Renewals.Request(at(16.5), at(16.7), true, "HTTP 502: boom"),
        new Renewals.Request(at(5.0), at(5.1), false, null),
        new Renewals.Request(at(12.0), at(12.9), false, null));       // ends before the window
    assertTrue(Renewals.during(requests.get(0), r));
    assertFalse(Renewals.during(requests.get(4), r));
    Renewals.Group in = Renewals.group(requests, r, true);
    assertEquals(3, in.requests());
    assertEquals(1, in.failed());
    assertEquals(200.0, in.p50(), 0.001, "nearest rank over the two successful ones: 200 and 300 ms");
    assertEquals(300.0, in.max(), 0.001);
    Renewals.Group out = Renewals.group(requests, r, false);
    assertEquals(2, out.requests());
    assertEquals(0, out.failed());
    assertEquals(900.0, out.p99(), 0.001);
  }

  @Test void expectedJobsAreTheFirstPlusOnePerRenewalDue() {
    // Due at start + 12 s (renew-before 12 s = half of 24): job 1 at 13 s, job 2 at 26 s, job 3 at 38 s.
    assertEquals(3, Renewals.expectedJobs(TWO_RENEWALS, Duration.ofSeconds(12), at(31)));
    assertEquals(2, Renewals.expectedJobs(TWO_RENEWALS, Duration.ofSeconds(12), at(25.9)));
    assertEquals(4, Renewals.expectedJobs(TWO_RENEWALS, Duration.ofSeconds(12), at(38)));
    // A renew-before longer than half the run is capped at half (12 s): still due at 13 s.
    assertEquals(2, Renewals.expectedJobs(List.of(job("1", 0, 3.0, null, null)), Duration.ofMinutes(15), at(13.5)));
    assertEquals(0, Renewals.expectedJobs(List.of(), Duration.ofSeconds(12), at(100)));
  }

  @Test void theLongestStretchWithoutAReplicaRunsFromTheLastPollThatSawOne() {
    List<Instant> at = List.of(at(0), at(0.1), at(0.2), at(0.3), at(0.4), at(0.5));
    assertEquals(Duration.ZERO, Renewals.longestWithoutReplica(at, List.of(1L, 1L, 2L, 1L, 1L, 1L)));
    assertEquals(Duration.ofMillis(300), Renewals.longestWithoutReplica(at, List.of(1L, 0L, 0L, 1L, 1L, 1L)));
    assertEquals(Duration.ofMillis(200), Renewals.longestWithoutReplica(at, List.of(1L, 1L, 1L, 1L, 0L, 0L)), "still without one at the end");
  }
}
