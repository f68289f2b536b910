package sluice.bench;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;

/**
 * The renewal step's arithmetic, pure: which job replaced which, the overlap between the replacement's readiness and
 * the old job's drain, the renewal windows, and the requests' latencies inside and outside them.
 */
final class Renewals {
  private Renewals() {}

  /**
   * What the bench saw of one job through the admin API (gateway timestamps), plus when the bench first saw it
   * ended or gone ({@code endedSeenAt}, bench clock, within one admin poll).
   */
  record JobTrack(String jobId, Instant submittedAt, Instant startedAt, Instant endsAt, Instant readyAt,
                  Instant drainingAt, Instant endedSeenAt) {}

  /** One request of the load: when it was sent and fully answered, and what went wrong (null when nothing did). */
  record Request(Instant start, Instant end, boolean stream, String error) {
    boolean ok() {
      return error == null;
    }

    double millis() {
      return Duration.between(start, end).toNanos() / 1e6;
    }
  }

  /**
   * One renewal. The window runs from the replacement's submission until the old job was seen ended (or, if it was
   * not seen ending, its drain start): every request that overlaps it counts as "during a renewal".
   *
   * @param overlap the old job's drain start minus the replacement's readiness: positive means a ready replica was
   *                there the whole time (no gap); null when the replacement never became ready
   * @param startup the replacement's submission → readiness (null when either is unknown)
   */
  record Renewal(String oldJob, String newJob, Instant windowStart, Instant windowEnd, Duration overlap, Duration startup) {}

  /** Latencies of one group of requests, in milliseconds. */
  record Group(long requests, long failed, double p50, double p99, double max) {}

  /**
   * Each drained job with its replacement: the first job submitted after it that became ready. Jobs that were not
   * drained (still serving, or ended another way) are not renewals.
   */
  static List<Renewal> of(List<JobTrack> jobs) {
    List<JobTrack> bySubmission = jobs.stream().filter(j -> j.submittedAt() != null)
        .sorted(Comparator.comparing(JobTrack::submittedAt)).toList();
    List<Renewal> out = new ArrayList<>();
    for (int i = 0; i < bySubmission.size(); i++) {
      JobTrack old = bySubmission.get(i);
      if (old.drainingAt() == null) continue;
      Optional<JobTrack> next = bySubmission.subList(i + 1, bySubmission.size()).stream()
          .filter(j -> j.readyAt() != null).findFirst();
      Optional<JobTrack> submittedNext = i + 1 < bySubmission.size() ? Optional.of(bySubmission.get(i + 1)) : Optional.empty();
      Instant windowStart = submittedNext.map(JobTrack::submittedAt).orElse(old.drainingAt());
      Instant windowEnd = old.endedSeenAt() != null ? old.endedSeenAt() : old.drainingAt();
      out.add(new Renewal(old.jobId(), next.map(JobTrack::jobId).orElse(null), windowStart, windowEnd,
          next.map(n -> Duration.between(n.readyAt(), old.drainingAt())).orElse(null),
          next.filter(n -> n.submittedAt() != null).map(n -> Duration.between(n.submittedAt(), n.readyAt())).orElse(null)));
    }
    return out;
  }

  static boolean during(Request r, List<Renewal> renewals) {
    return renewals.stream().anyMatch(w -> r.start().isBefore(w.windowEnd()) && r.end().isAfter(w.windowStart()));
  }

  /** The requests inside ({@code inside = true}) or outside every renewal window; latencies of successful ones. */
  static Group group(List<Request> requests, List<Renewal> renewals, boolean inside) {
    List<Request> mine = requests.stream().filter(r -> during(r, renewals) == inside).toList();
    List<Double> ms = mine.stream().filter(Request::ok).map(Request::millis).toList();
    return new Group(mine.size(), mine.stream().filter(r -> !r.ok()).count(), Spread.percentile(ms, 50),
        Spread.percentile(ms, 99), ms.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN));
  }

  /**
   * Submissions the renewals explain: the first job plus one replacement for every job whose renewal came due before
   * {@code until} (the gateway's rule: {@code renewBefore} ahead of the Slurm end time, at most half the job's run).
   * More jobs than this were submitted twice.
   */
  static int expectedJobs(List<JobTrack> jobs, Duration renewBefore, Instant until) {
    int expected = jobs.isEmpty() ? 0 : 1;
    for (JobTrack j : jobs) {
      if (j.startedAt() == null || j.endsAt() == null) continue;
      Duration lead = renewBefore;
      Duration half = Duration.between(j.startedAt(), j.endsAt()).dividedBy(2);
      if (half.compareTo(lead) < 0) lead = half;
      if (!until.isBefore(j.endsAt().minus(lead))) expected++;
    }
    return expected;
  }

  /**
   * The longest stretch in which no poll of the admin API showed a routable replica, from consecutive polls
   * ({@code at} in order, {@code routable} the count at each): an upper bound per stretch of the poll interval.
   */
  static Duration longestWithoutReplica(List<Instant> at, List<Long> routable) {
    Duration longest = Duration.ZERO;
    Instant since = null;
    for (int i = 0; i < at.size(); i++) {
      if (routable.get(i) == 0) {
        if (since == null) since = i > 0 ? at.get(i - 1) : at.get(i);    // it was last seen up at the poll before
      } else if (since != null) {
        Duration d = Duration.between(since, at.get(i));
        if (d.compareTo(longest) > 0) longest = d;
        since = null;
      }
    }
    if (since != null && !at.isEmpty()) {
      Duration d = Duration.between(since, at.get(at.size() - 1));
      if (d.compareTo(longest) > 0) longest = d;
    }
    return longest;
  }
}
