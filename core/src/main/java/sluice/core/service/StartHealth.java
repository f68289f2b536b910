package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import sluice.core.job.ReplicaView;
import sluice.core.policy.Backoff;

/**
 * Whether the service manages to start replicas: failed submissions and failed starts, the back-off before the next
 * submission, the degraded state, the measured start-up time, and the problem operators see as {@code last_error}
 * with the failed job's log. Runtime only: a restart begins with a clean slate. Owned by one service actor.
 */
final class StartHealth {
  /** A problem shown to operators as {@code last_error}; a success of the same kind clears it. */
  record Problem(Kind kind, String text) {
    enum Kind { LISTING, SUBMISSION, START }
  }

  private final Backoff backoff;
  private final int degradedAfter;
  private int submitFailures;
  private int startFailures;
  private Instant submitNotBefore = Instant.EPOCH;
  private Problem lastError;
  private List<String> logTail = List.of();
  private Duration startup;                // measured submission-to-ready time (moving average), null until measured

  StartHealth(Backoff backoff, int degradedAfter) {
    this.backoff = backoff;
    this.degradedAfter = degradedAfter;
  }

  void listingFailed(String reason) { lastError = new Problem(Problem.Kind.LISTING, "cannot list jobs: " + reason); }

  void listed() { clear(Problem.Kind.LISTING); }

  /** Backs off the next submission; returns how long. */
  Duration submitFailed(String reason, Instant now) {
    submitFailures++;
    lastError = new Problem(Problem.Kind.SUBMISSION, "submit failed: " + reason);
    Duration delay = backoff.after(submitFailures);
    submitNotBefore = now.plus(delay);
    return delay;
  }

  void submitSucceeded() {
    submitFailures = 0;
    clear(Problem.Kind.SUBMISSION);
  }

  /** A replica failed to start: backs off the next submission and returns how long. */
  Duration startFailed(String reason, Instant now) {
    startFailures++;
    Duration wait = backoff.after(startFailures);
    submitNotBefore = now.plus(wait);
    lastError = new Problem(Problem.Kind.START, reason);
    return wait;
  }

  /**
   * A replica became ready for the first time: measures its start-up and ends any series of failed starts. Returns
   * how many starts had failed before it (0 when none).
   */
  int startSucceeded(ReplicaView v) {
    if (v.submittedAt() != null && v.readyAt().isAfter(v.submittedAt())) {
      Duration took = Duration.between(v.submittedAt(), v.readyAt());
      startup = startup == null ? took : startup.plus(took).dividedBy(2);
    }
    int failed = startFailures;
    if (failed > 0) {
      lastError = null;
      logTail = List.of();
    }
    startFailures = 0;
    submitNotBefore = Instant.EPOCH;
    return failed;
  }

  void logTailFetched(List<String> lines) { logTail = lines; }

  int startFailures() { return startFailures; }

  boolean degraded() { return startFailures >= degradedAfter; }

  Instant submitNotBefore() { return submitNotBefore; }

  Duration backoffLeft(Instant now) { return submitNotBefore.isAfter(now) ? Duration.between(now, submitNotBefore) : Duration.ZERO; }

  /**
   * A request would wait in vain: starts keep failing, no replica is on its way and the next attempt is further away
   * than the request may wait. It is refused at once rather than after the wait.
   */
  boolean refusesRequests(boolean replicaStarting, Duration maxQueueWait, Instant now) {
    return degraded() && !replicaStarting && submitNotBefore.isAfter(now.plus(maxQueueWait));
  }

  /** Why requests are refused while {@link #refusesRequests}. */
  String unavailableBecause() { return lastError == null ? startFailures + " failed starts" : lastError.text(); }

  /** The measured start-up time, else {@code assumed}. */
  Duration startupOr(Duration assumed) { return startup != null ? startup : assumed; }

  /** The measured start-up time, or null until a replica was seen starting. */
  Duration startup() { return startup; }

  String lastError() { return lastError == null ? null : lastError.text(); }

  List<String> logTail() { return logTail; }

  /** The innermost cause's message: what operators see of a failed call to the cluster. */
  static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  private void clear(Problem.Kind kind) {
    if (lastError != null && lastError.kind() == kind) lastError = null;
  }
}
