package sluice.core.service;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.time.Duration;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import sluice.core.job.ReplicaEnd;
import sluice.core.job.ReplicaPhase;
import sluice.core.job.ReplicaView;
import sluice.core.metrics.SluiceMetrics;

/**
 * One service's metrics on the node hosting its actor (docs/operations.md, "Metrics: services, jobs, tunnels, usage"):
 * its queue, its replicas by state, its jobs' events, start-up times and time left. The data points of the model are
 * looked up once; {@link #close} removes every series this service made, so a node that no longer hosts it stops
 * exporting it.
 *
 * <p>Each event is counted once. The actor calls {@link #submitted} and {@link #ended} only after the event is stored
 * (never from the event handler, which a recovery replays), and ready, renewed and drained are transitions between two
 * reports seen by this instance: a replica's first report after a (re)start is a baseline, so a recovered ready
 * replica is not counted as ready again.
 */
final class ServiceMeters implements LeaseBroker.QueueMeter {
  /** The values of {@code event}; each job end is exactly one of ENDED or a FAILED_ one. */
  enum JobEvent {
    SUBMITTED, READY, RENEWED, DRAINED, ENDED,
    /** Ended before it was ready: crashed while loading, or cancelled after ready-timeout. */
    FAILED_START,
    /** Cancelled by the service after failing health checks in a row. */
    FAILED_HEALTH,
    /** Ended on its own after it was ready with an error (non-zero exit, out of memory, boot failure). */
    FAILED_EXIT,
    /** Ran into its Slurm time limit (it was not renewed in time). */
    FAILED_TIME_LIMIT,
    FAILED_NODE_FAILURE,
    /** Cancelled or preempted by someone other than the gateway. */
    FAILED_CANCELLED,
    /** The scheduler stopped listing it without saying how it ended. */
    FAILED_LOST;

    String label() { return name().toLowerCase(Locale.ROOT); }
  }

  /** The values of {@code state} in {@code sluice_replicas}. */
  enum ReplicaState {
    /** A submission on its way, or a job Slurm has not started (or one not reported since a restart). */
    PENDING,
    /** Running, its model server loading. */
    STARTING,
    /** Ready and healthy. */
    READY,
    DRAINING,
    /** Ready, but its last health check failed or could not reach it: it takes no requests. */
    FAILING;

    String label() { return name().toLowerCase(Locale.ROOT); }
  }

  private final SluiceMetrics metrics;
  private final String model;
  private final GaugeDataPoint queued;
  private final DistributionDataPoint queueWait;
  private final DistributionDataPoint startup;
  private final Map<ReplicaState, GaugeDataPoint> replicas = new EnumMap<>(ReplicaState.class);
  private final Map<JobEvent, CounterDataPoint> events = new EnumMap<>(JobEvent.class);
  private final Map<String, GaugeDataPoint> timeLeft = new HashMap<>();      // live jobs with a known end
  private final Map<String, ReplicaPhase> lastPhase = new HashMap<>();     // reported since this instance began
  private final Set<String> startFailed = new HashSet<>();

  ServiceMeters(SluiceMetrics metrics, String model) {
    this.metrics = metrics;
    this.model = model;
    this.queued = metrics.queued.labelValues(model);
    this.queueWait = metrics.queueWait.labelValues(model);
    this.startup = metrics.jobStartup.labelValues(model);
    for (ReplicaState s : ReplicaState.values()) replicas.put(s, metrics.replicas.labelValues(model, s.label()));
    // Every event at 0 from the start, so the first one shows in increase() and rate().
    for (JobEvent e : JobEvent.values()) events.put(e, metrics.jobEvents.labelValues(model, e.label()));
  }

  @Override public void queued(int length) { queued.set(length); }

  /** Granted at once counts as a wait of 0, so the quantiles are those of every granted request. */
  @Override public void granted(Duration waited) { queueWait.observe(seconds(waited)); }

  /** A job was submitted (its id is stored). */
  void submitted() { events.get(JobEvent.SUBMITTED).inc(); }

  /** A live replica's report: counts ready (with its start-up time), renewed and drained as it enters them. */
  void reported(ReplicaView v) {
    if (v.phase() == ReplicaPhase.ENDED) return;                    // see ended()
    ReplicaPhase before = lastPhase.put(v.jobId(), v.phase());
    if (before == null || before == v.phase()) return;
    if (v.phase() == ReplicaPhase.READY && (before == ReplicaPhase.PENDING || before == ReplicaPhase.RUNNING)) {
      events.get(JobEvent.READY).inc();
      if (v.submittedAt() != null && v.readyAt() != null && !v.readyAt().isBefore(v.submittedAt())) {
        startup.observe(seconds(Duration.between(v.submittedAt(), v.readyAt())));
      }
    } else if (v.phase() == ReplicaPhase.DRAINING) {
      events.get(Replicas.RENEWED.equals(v.reason()) ? JobEvent.RENEWED : JobEvent.DRAINED).inc();
    }
  }

  /** The service counts the job's start as failed (it ended before ready, or missed ready-timeout). */
  void startFailed(String jobId) { startFailed.add(jobId); }

  /**
   * The job's end is stored: counts it once, as ended or failed_(why), and removes its time-left series.
   *
   * @param cancelledByService whether this service had cancelled it
   */
  void ended(ReplicaView v, boolean cancelledByService) {
    ReplicaPhase last = lastPhase.remove(v.jobId());
    events.get(endEvent(v.end(), startFailed.remove(v.jobId()), cancelledByService, last)).inc();
    if (timeLeft.remove(v.jobId()) != null) metrics.jobTimeLeft.remove(model, v.jobId());
  }

  static JobEvent endEvent(ReplicaEnd end, boolean startFailed, boolean cancelledByService, ReplicaPhase lastPhase) {
    if (startFailed) return JobEvent.FAILED_START;
    // A ready replica the service cancels without draining it first is one that failed its health checks.
    if (cancelledByService) return lastPhase == ReplicaPhase.READY ? JobEvent.FAILED_HEALTH : JobEvent.ENDED;
    if (end == null) return JobEvent.FAILED_LOST;
    return switch (end) {
      case COMPLETED -> JobEvent.ENDED;
      case CANCELLED -> JobEvent.FAILED_CANCELLED;
      case FAILED -> JobEvent.FAILED_EXIT;
      case TIMED_OUT -> JobEvent.FAILED_TIME_LIMIT;
      case NODE_FAILURE -> JobEvent.FAILED_NODE_FAILURE;
      case LOST -> JobEvent.FAILED_LOST;
    };
  }

  /** The gauges from the service's status: replicas by state, and the time left of every live job with a known end. */
  void refresh(ServiceStatus status) {
    Map<ReplicaState, Integer> counts = new EnumMap<>(ReplicaState.class);
    Set<String> live = new HashSet<>();
    for (ServiceStatus.Replica r : status.replicas()) {
      ReplicaState state = stateOf(r);
      if (state == null) continue;
      counts.merge(state, 1, Integer::sum);
      if (r.timeLeftSeconds() != null && r.phase() != ReplicaPhase.SUBMITTING) {
        live.add(r.jobId());
        timeLeft.computeIfAbsent(r.jobId(), j -> metrics.jobTimeLeft.labelValues(model, j)).set(r.timeLeftSeconds());
      }
    }
    replicas.forEach((state, gauge) -> gauge.set(counts.getOrDefault(state, 0)));
    timeLeft.keySet().removeIf(job -> {
      if (live.contains(job)) return false;
      metrics.jobTimeLeft.remove(model, job);
      return true;
    });
  }

  /** The state a replica of the status counts in, from its phase and health; null once ended. */
  static ReplicaState stateOf(ServiceStatus.Replica r) {
    return switch (r.phase()) {
      case SUBMITTING, PENDING -> ReplicaState.PENDING;
      case RUNNING -> ReplicaState.STARTING;
      case READY -> "ok".equals(r.health()) ? ReplicaState.READY : ReplicaState.FAILING;
      case DRAINING -> ReplicaState.DRAINING;
      case ENDED -> null;
    };
  }

  /** The actor stops (or moves off this node): every series of this service goes. */
  void close() {
    metrics.queued.remove(model);
    metrics.queueWait.remove(model);
    metrics.jobStartup.remove(model);
    for (ReplicaState s : ReplicaState.values()) metrics.replicas.remove(model, s.label());
    for (JobEvent e : JobEvent.values()) metrics.jobEvents.remove(model, e.label());
    metrics.jobTimeLeft.removeIf(labels -> labels.get(0).equals(model));
    timeLeft.clear();
  }

  private static double seconds(Duration d) { return d.toNanos() / 1e9; }
}
