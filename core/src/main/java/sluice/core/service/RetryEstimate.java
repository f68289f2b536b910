package sluice.core.service;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import sluice.core.config.ServiceSettings;
import sluice.core.policy.RetryAfter;
import sluice.core.service.ServiceActor.State;

/** The Retry-After of a refused request ({@link RetryAfter}), from the replicas on their way and the measured times. */
final class RetryEstimate {
  private final ServiceSettings settings;
  private final Duration assumedStartup;
  private final Clock clock;
  private final Replicas replicas;
  private final LeaseBroker<?> broker;
  private final StartHealth health;
  private final ScaleTracker scaling;

  /** @param assumedStartup the start-up time assumed until one is measured */
  RetryEstimate(ServiceSettings settings, Duration assumedStartup, Clock clock, Replicas replicas, LeaseBroker<?> broker,
                StartHealth health, ScaleTracker scaling) {
    this.settings = settings;
    this.assumedStartup = assumedStartup;
    this.clock = clock;
    this.replicas = replicas;
    this.broker = broker;
    this.health = health;
    this.scaling = scaling;
  }

  long seconds(State s) {
    Instant now = clock.instant();
    return RetryAfter.seconds(replicas.startingFor(s.intents().values(), now), replicas.live() < scaling.max(s),
        health.backoffLeft(now), health.startupOr(assumedStartup), broker.queued(),
        (int) replicas.reportedRoutable() * settings.maxInflightPerReplica(), broker.requestTime());
  }
}
