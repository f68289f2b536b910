package sluice.core.service;

import java.time.Duration;
import java.util.List;

/**
 * When a service polls sooner than its poll interval: right after a submission is answered. A job often starts within
 * a fraction of the interval (an idle Slurm partition, the embedded scheduler), and waiting a whole interval to see it
 * running delays its first request by that much. So the submission's answer is followed by listings at 1/8, 3/8 and
 * 7/8 of the interval (gaps doubling), then the regular polls go on: three extra listings per submission, whatever
 * the interval. Each of them takes a listing no older than the first gap (a shared listing is otherwise reused for
 * most of an interval, which would answer them with what the previous one saw).
 */
final class PollPace {
  private final List<Duration> gaps;

  PollPace(Duration pollInterval) {
    Duration first = pollInterval.dividedBy(8);
    this.gaps = first.isZero() ? List.of() : List.of(first, first.multipliedBy(2), first.multipliedBy(4));
  }

  /** The wait before the {@code step}-th extra listing after a submission (from 0), or null after the last. */
  Duration gapBefore(int step) { return step < gaps.size() ? gaps.get(step) : null; }

  /** How old a listing may be to answer an extra poll. */
  Duration maxAge() { return gaps.isEmpty() ? Duration.ZERO : gaps.get(0); }
}
