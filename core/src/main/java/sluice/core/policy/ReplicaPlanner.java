package sluice.core.policy;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * Turns a replica target into actions: how many jobs to submit, which to drain (ready ones, which may be serving) and
 * which to cancel (ones that serve nothing yet). Pure; the service actor applies the plan.
 *
 * <p>Renewal falls out of counting: a replica within {@code renewBefore} of its Slurm end time no longer counts toward
 * the target, so its replacement is submitted; the old one keeps serving until enough replicas are ready without it,
 * and is then drained. The renewal window is at most half a job's run, so jobs shorter than {@code renewBefore} do not
 * renew in a loop.
 */
public final class ReplicaPlanner {
  private ReplicaPlanner() {}

  /** Where a replica stands, as far as planning cares. */
  public enum Stage {
    /** Submitted, pending or loading: no traffic yet. */
    STARTING,
    /** Takes traffic (or would, between two failed health checks). */
    READY,
    /** Being drained or cancelled: already on its way out. */
    LEAVING
  }

  public record Replica(String jobId, Stage stage, int inFlight, Instant startedAt, Instant endsAt) {}

  public record Plan(int toSubmit, List<String> drain, List<String> cancel) {
    public Plan {
      drain = List.copyOf(drain);
      cancel = List.copyOf(cancel);
    }

    public boolean isEmpty() { return toSubmit == 0 && drain.isEmpty() && cancel.isEmpty(); }
  }

  /** When a replica's renewal is due: {@code renewBefore} ahead of its end, but never before half of its run. */
  public static boolean renewalDue(Instant startedAt, Instant endsAt, Duration renewBefore, Instant now) {
    if (endsAt == null) return false;
    Duration lead = renewBefore;
    if (startedAt != null && startedAt.isBefore(endsAt)) {
      Duration half = Duration.between(startedAt, endsAt).dividedBy(2);
      if (half.compareTo(lead) < 0) lead = half;
    }
    return !now.isBefore(endsAt.minus(lead));
  }

  /**
   * @param target    replicas wanted (from the autoscaler)
   * @param intents   submissions on their way (persisted, no job id yet); they count as starting replicas
   */
  public static Plan plan(int target, int intents, List<Replica> replicas, Duration renewBefore, Instant now) {
    List<Replica> starting = new ArrayList<>();
    List<Replica> ready = new ArrayList<>();
    List<Replica> expiringReady = new ArrayList<>();
    List<String> cancel = new ArrayList<>();
    for (Replica r : replicas) {
      if (r.stage() == Stage.LEAVING) continue;
      boolean expiring = renewalDue(r.startedAt(), r.endsAt(), renewBefore, now);
      if (r.stage() == Stage.STARTING) {
        if (expiring) cancel.add(r.jobId());            // never became ready and its time is nearly up: useless
        else starting.add(r);
      } else if (expiring) {
        expiringReady.add(r);
      } else {
        ready.add(r);
      }
    }
    List<String> drain = new ArrayList<>();
    int counted = ready.size() + starting.size() + intents;
    int toSubmit = Math.max(0, target - counted);
    int excess = counted - target;
    // Scale down: first what serves nothing yet (newest first: furthest from ready), then the least busy ready ones.
    starting.sort(Comparator.comparing(Replica::startedAt, Comparator.nullsFirst(Comparator.reverseOrder())));
    while (excess > 0 && !starting.isEmpty()) {
      cancel.add(starting.remove(0).jobId());
      excess--;
    }
    ready.sort(Comparator.comparingInt(Replica::inFlight)
        .thenComparing(Replica::endsAt, Comparator.nullsLast(Comparator.naturalOrder())));
    while (excess > 0 && !ready.isEmpty()) {
      drain.add(ready.remove(0).jobId());
      excess--;
    }
    // Renewal: an expiring replica leaves once the others that are ready cover the target without it.
    expiringReady.sort(Comparator.comparing(Replica::endsAt));
    int readyTotal = ready.size() + expiringReady.size();
    for (Replica r : expiringReady) {
      if (readyTotal - 1 < target) break;
      drain.add(r.jobId());
      readyTotal--;
    }
    return new Plan(toSubmit, drain, cancel);
  }
}
