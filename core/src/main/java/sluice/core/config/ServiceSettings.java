package sluice.core.config;

import java.time.Duration;
import java.util.List;

/**
 * One model served as a service: {@code sluice.services.<id>} over {@code sluice.service-defaults}.
 *
 * @param maxInflightPerReplica requests one replica carries at once; more wait in the service's queue
 * @param maxQueue              requests that may wait for a replica; more are refused with 503
 * @param maxQueueWait          how long a request waits for a replica before 503 with Retry-After
 * @param usagePerChunk         the model server reports cumulative usage on every stream chunk when asked
 *                              ({@code stream_options.continuous_usage_stats}, vLLM): a stream the client cuts is
 *                              then billed exactly for the tokens it was sent
 */
public record ServiceSettings(String id, String cluster, String ownedBy, List<String> input, List<String> output,
                              int minReplicas, int maxReplicas, int maxInflightPerReplica, int maxQueue,
                              Duration maxQueueWait, Lifecycle lifecycle, boolean usagePerChunk) {
  public ServiceSettings {
    input = List.copyOf(input);
    output = List.copyOf(output);
  }

  /** A service whose model server reports usage per chunk (vLLM's default ability). */
  public ServiceSettings(String id, String cluster, String ownedBy, List<String> input, List<String> output,
                         int minReplicas, int maxReplicas, int maxInflightPerReplica, int maxQueue,
                         Duration maxQueueWait, Lifecycle lifecycle) {
    this(id, cluster, ownedBy, input, output, minReplicas, maxReplicas, maxInflightPerReplica, maxQueue, maxQueueWait,
        lifecycle, true);
  }

  /**
   * How the service's replicas are renewed, scaled, checked and replaced.
   *
   * @param renewBefore    a replacement is submitted this long before a job's Slurm end time (at most half its run)
   * @param drainTimeout   a drained replica finishes its requests for at most this long, then it is cancelled
   * @param readyTimeout   a running job whose model server is not ready this long after start is cancelled and retried
   * @param scaleDownDelay demand must stay below the replicas for this long before one is drained
   * @param idleToZero     with {@code min-replicas = 0}: no request at all for this long stops the last replica
   * @param healthInterval how often a ready replica is checked
   * @param healthFailures consecutive failed checks after which a replica is cancelled and replaced (one failed check
   *                       already stops its traffic until a check passes)
   */
  public record Lifecycle(Duration renewBefore, Duration drainTimeout, Duration readyTimeout, Duration scaleDownDelay,
                          Duration idleToZero, Duration healthInterval, int healthFailures) {
    public Lifecycle {
      if (healthFailures < 1) throw new IllegalArgumentException("health-failures must be >= 1");
    }
  }
}
