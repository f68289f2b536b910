package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import sluice.core.config.ServiceSettings;
import sluice.core.job.ReplicaView;
import sluice.core.service.ServiceActor.State;
import sluice.core.service.ServiceActor.TrackedJob;

/**
 * A service's status as operators see it ({@code GET /admin/services/{id}}, {@code /v1/models}): the persisted jobs
 * and intents, each with its replica's latest report, the queue, the autoscaler and the failure state.
 */
final class StatusView {
  private final ServiceSettings settings;
  private final Replicas replicas;
  private final LeaseBroker<?> broker;
  private final StartHealth health;
  private final ScaleTracker scaling;

  StatusView(ServiceSettings settings, Replicas replicas, LeaseBroker<?> broker, StartHealth health, ScaleTracker scaling) {
    this.settings = settings;
    this.replicas = replicas;
    this.broker = broker;
    this.health = health;
    this.scaling = scaling;
  }

  ServiceStatus of(State s, Instant now) {
    int min = scaling.min(s);
    List<ServiceStatus.Replica> shown = new ArrayList<>();
    s.intents().entrySet().stream().sorted(Map.Entry.comparingByValue())
        .forEach(i -> shown.add(ServiceStatus.Replica.submitting(i.getKey(), i.getValue())));
    s.jobs().values().stream()
        .sorted(Comparator.comparing(TrackedJob::submittedAt))
        .forEach(j -> shown.add(replica(j, now)));
    var queue = new ServiceStatus.Queue(broker.queued(), settings.maxQueue(), settings.maxQueueWait(), broker.queuedPerUser());
    return new ServiceStatus(settings.id(), settings.cluster(), s.createdAt(), min, scaling.max(s), settings.maxInflightPerReplica(),
        scaling.targetOr(min), shown, queue, scaling.shown(broker.demand(), health.startup()), health.degraded(),
        health.lastError(), health.logTail(), now);
  }

  private ServiceStatus.Replica replica(TrackedJob j, Instant now) {
    int inFlight = broker.inFlight(j.jobId());
    ReplicaView v = replicas.view(j.jobId()).orElse(null);
    if (v == null) return ServiceStatus.Replica.recovering(j.jobId(), j.submittedAt(), inFlight);
    Long left = v.endsAt() == null ? null : Math.max(0, Duration.between(now, v.endsAt()).toSeconds());
    String cancelling = replicas.cancelReason(j.jobId());
    String reason = cancelling != null ? "cancelling: " + cancelling : v.reason();
    return ServiceStatus.Replica.of(v, v.routable() && !replicas.drainAsked(j.jobId()), inFlight, left, reason);
  }
}
