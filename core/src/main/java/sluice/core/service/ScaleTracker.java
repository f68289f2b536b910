package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import sluice.core.config.ServiceSettings;
import sluice.core.policy.Autoscaler;

/**
 * The autoscaler's memory between two decisions of one service, and its last change of target for the status. The
 * service actor feeds it every demand sample; {@link Autoscaler} decides.
 */
final class ScaleTracker {
  private final ServiceSettings settings;
  private Autoscaler autoscaler;
  private Autoscaler.Scale scale;
  private Instant demandAbove;             // when demand first needed more replicas than the target
  private ServiceStatus.Scaling last;

  ScaleTracker(ServiceSettings settings) { this.settings = settings; }

  /** The effective bounds: an operator's (persisted in {@code s}), else the configured ones. */
  int min(ServiceActor.State s) { return s.minOverride() != null ? s.minOverride() : settings.minReplicas(); }

  int max(ServiceActor.State s) { return s.maxOverride() != null ? s.maxOverride() : settings.maxReplicas(); }

  /** After recovery: starts from what runs, so a restart neither submits nor cancels before it has seen demand. */
  void start(ServiceActor.State s) {
    bounds(s);
    scale = Autoscaler.Scale.initial(Math.max(min(s), Math.min(max(s), s.jobs().size() + s.intents().size())));
  }

  /** New replica bounds (an operator's); the current target moves into them at the next sample. */
  void bounds(ServiceActor.State s) {
    autoscaler = new Autoscaler(min(s), max(s), settings.maxInflightPerReplica(), settings.lifecycle().scaleDownDelay(),
        settings.lifecycle().idleToZero());
  }

  boolean started() { return autoscaler != null && scale != null; }

  /** Feeds one demand sample; returns the change of target it caused, if any. */
  Optional<ServiceStatus.Scaling> next(int demand, Instant now, Duration measuredStartup) {
    int before = scale.target();
    if (autoscaler.need(demand) > before && demandAbove == null) demandAbove = now;
    scale = autoscaler.next(scale, demand, now);
    Optional<ServiceStatus.Scaling> change = Optional.empty();
    if (scale.target() != before) {
      last = new ServiceStatus.Scaling(demand, before, scale.target(), scale.target() > before ? demandAbove : null, now,
          measuredStartup);
      change = Optional.of(last);
    }
    if (autoscaler.need(demand) <= scale.target()) demandAbove = null;
    return change;
  }

  /** The replicas wanted now, or {@code otherwise} before the first decision. */
  int targetOr(int otherwise) { return scale == null ? otherwise : scale.target(); }

  /** The last change of target, or the present demand and target when there was none. */
  ServiceStatus.Scaling shown(int demand, Duration measuredStartup) {
    return last != null ? last : new ServiceStatus.Scaling(demand, 0, targetOr(0), null, null, measuredStartup);
  }
}
