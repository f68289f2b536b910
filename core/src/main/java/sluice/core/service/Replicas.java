package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.ToIntFunction;
import sluice.core.cluster.ClusterFailure;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.policy.ReplicaPlanner;
import sluice.core.service.ServiceActor.TrackedJob;

/**
 * The service actor's runtime picture of its replicas: the latest report of each job, the submissions in flight, and
 * what the actor already decided about each job (cancelling and why, drain asked). Rebuilt after every restart from
 * the children's reports. Owned by one service actor.
 */
final class Replicas {
  /** Why a replica near its time limit drains (its child reports it back, so the metrics tell renewals apart). */
  static final String RENEWED = "renewed: a replacement is ready before the time limit";

  private final Map<String, ReplicaView> views = new HashMap<>();
  private final Set<String> submitting = new HashSet<>();
  private final Map<String, String> cancelling = new HashMap<>();      // job id -> why
  private final Set<String> drainAsked = new HashSet<>();
  private final Set<String> startMeasured = new HashSet<>();

  Optional<ReplicaView> view(String jobId) { return Optional.ofNullable(views.get(jobId)); }

  /** Whether the job's last report shows it in {@code phase} (false without a report). */
  boolean inPhase(String jobId, ReplicaPhase phase) {
    ReplicaView v = views.get(jobId);
    return v != null && v.phase() == phase;
  }

  /** Takes a report of a live job; true when it shows the job ready for the first time (its start succeeded). */
  boolean update(ReplicaView v) {
    ReplicaView before = views.put(v.jobId(), v);
    if (v.phase() == ReplicaPhase.DRAINING) drainAsked.remove(v.jobId());
    return v.phase() == ReplicaPhase.READY && v.readyAt() != null && startMeasured.add(v.jobId())
        && (before == null || before.phase() != ReplicaPhase.READY);
  }

  /** The job ended: forgets what was decided about it; true when this actor had cancelled it. */
  boolean ended(String jobId) {
    drainAsked.remove(jobId);
    return cancelling.remove(jobId) != null;
  }

  /** The end is recorded: forgets the job's last report. */
  void forget(String jobId) { views.remove(jobId); }

  void submitting(String tag) { submitting.add(tag); }

  void submitted(String tag) { submitting.remove(tag); }

  /** Tags whose submission is on its way (they must not be taken for lost). */
  Set<String> submittingTags() { return Set.copyOf(submitting); }

  /** Marks the job as being cancelled; false when it already was. */
  boolean cancel(String jobId, String reason) { return cancelling.putIfAbsent(jobId, reason) == null; }

  /** The cancellation failed: the next decision may cancel it again. */
  void cancelFailed(String jobId) { cancelling.remove(jobId); }

  /** Why the job is being cancelled, or null. */
  String cancelReason(String jobId) { return cancelling.get(jobId); }

  /** Marks a drain as asked; false when it already was. */
  boolean askDrain(String jobId) { return drainAsked.add(jobId); }

  boolean drainAsked(String jobId) { return drainAsked.contains(jobId); }

  /** Replicas that may take a request now, oldest submission first. */
  List<String> routable() {
    return views.values().stream()
        .sorted(Comparator.comparing(ReplicaView::submittedAt, Comparator.nullsLast(Comparator.naturalOrder())))
        .filter(v -> v.routable() && !cancelling.containsKey(v.jobId()) && !drainAsked.contains(v.jobId()))
        .map(ReplicaView::jobId)
        .toList();
  }

  /**
   * No replica is routable, and a ready one is out of reach because the cluster's agent stopped answering: a request
   * would wait in vain until the agent answers again, so it is refused at once.
   */
  boolean cutOffByUnresponsiveAgent() {
    return routable().isEmpty() && views.values().stream().anyMatch(v ->
        v.phase() == ReplicaPhase.READY && v.unreachable() == ClusterFailure.TUNNEL_UNRESPONSIVE && !cancelling.containsKey(v.jobId()));
  }

  /** Reported routable (whatever this actor decided since): the capacity behind a Retry-After estimate. */
  long reportedRoutable() { return views.values().stream().filter(ReplicaView::routable).count(); }

  /** Replicas that stay: not draining, not being cancelled, plus submissions on their way. */
  long live() {
    return views.values().stream().filter(v -> v.phase() != ReplicaPhase.DRAINING && !cancelling.containsKey(v.jobId())).count()
        + submitting.size();
  }

  /** A replica is on its way: a submission, or a pending or loading job that is not being cancelled. */
  boolean starting() {
    return !submitting.isEmpty() || views.values().stream().anyMatch(v -> isStarting(v) && !cancelling.containsKey(v.jobId()));
  }

  /** How long the most advanced replica on its way (a starting job or an intent) has been so, or null if none. */
  Duration startingFor(Collection<Instant> intents, Instant now) {
    Duration longest = null;
    for (ReplicaView v : views.values()) {
      if (!isStarting(v) || cancelling.containsKey(v.jobId()) || v.submittedAt() == null) continue;
      Duration d = Duration.between(v.submittedAt(), now);
      if (longest == null || d.compareTo(longest) > 0) longest = d;
    }
    for (Instant at : intents) {
      Duration d = Duration.between(at, now);
      if (longest == null || d.compareTo(longest) > 0) longest = d;
    }
    return longest;
  }

  /** Live replicas past a deadline (see {@link ReplicaDeadlines}) and not being cancelled yet, in {@code jobs} order. */
  Map<String, ReplicaDeadlines.Verdict> overdue(Collection<TrackedJob> jobs, ToIntFunction<String> inFlight,
                                                ServiceSettings.Lifecycle life, Instant now) {
    Map<String, ReplicaDeadlines.Verdict> overdue = new LinkedHashMap<>();
    for (TrackedJob job : jobs) {
      ReplicaView v = views.get(job.jobId());
      if (v == null || v.phase() == ReplicaPhase.ENDED || cancelling.containsKey(v.jobId())) continue;
      ReplicaDeadlines.check(v, inFlight.applyAsInt(v.jobId()), life, now).ifPresent(d -> overdue.put(v.jobId(), d));
    }
    return overdue;
  }

  /**
   * What to submit, drain and cancel for {@code target}. A tracked job that has not reported yet (recovering) counts
   * as starting, so nothing is submitted twice; until every job has reported, which to drain or cancel is not known,
   * so only submissions go ahead.
   */
  ReplicaPlanner.Plan plan(Collection<TrackedJob> jobs, int intents, ToIntFunction<String> inFlight, int target,
                           Duration renewBefore, Instant now) {
    List<ReplicaPlanner.Replica> replicas = new ArrayList<>();
    boolean recovering = false;
    for (TrackedJob job : jobs) {
      ReplicaView v = views.get(job.jobId());
      if (v == null) {
        replicas.add(new ReplicaPlanner.Replica(job.jobId(), ReplicaPlanner.Stage.STARTING, 0, null, null));
        recovering = true;
        continue;
      }
      if (v.phase() == ReplicaPhase.ENDED) continue;
      boolean leaving = v.phase() == ReplicaPhase.DRAINING || cancelling.containsKey(v.jobId()) || drainAsked.contains(v.jobId());
      ReplicaPlanner.Stage stage = leaving ? ReplicaPlanner.Stage.LEAVING
          : v.phase() == ReplicaPhase.READY ? ReplicaPlanner.Stage.READY : ReplicaPlanner.Stage.STARTING;
      replicas.add(new ReplicaPlanner.Replica(v.jobId(), stage, inFlight.applyAsInt(v.jobId()), v.startedAt(), v.endsAt()));
    }
    ReplicaPlanner.Plan plan = ReplicaPlanner.plan(target, intents, replicas, renewBefore, now);
    return recovering ? new ReplicaPlanner.Plan(plan.toSubmit(), List.of(), List.of()) : plan;
  }

  /** Why a planned drain happens: the replica is within its renewal window (replaced), else scale-down. */
  String drainReason(String jobId, int demand, Duration renewBefore, Instant now) {
    ReplicaView v = views.get(jobId);
    boolean renewal = v != null && ReplicaPlanner.renewalDue(v.startedAt(), v.endsAt(), renewBefore, now);
    return renewal ? RENEWED : "scale down: demand " + demand;
  }

  private static boolean isStarting(ReplicaView v) {
    return v.phase() == ReplicaPhase.PENDING || v.phase() == ReplicaPhase.RUNNING;
  }
}
