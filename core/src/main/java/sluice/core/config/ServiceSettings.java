package sluice.core.config;

import java.time.Duration;
import java.util.List;

/**
 * One model served as a service: {@code sluice.services.<id>} over {@code sluice.service-defaults}.
 *
 * @param maxInflightPerReplica requests one replica carries at once; more wait in the service's queue
 * @param maxQueue              requests that may wait for a replica; more are refused with 503
 * @param maxQueueWait          how long a request waits for a replica before 503 with Retry-After
 */
public record ServiceSettings(String id, String cluster, String ownedBy, List<String> input, List<String> output,
                              int minReplicas, int maxReplicas, int maxInflightPerReplica, int maxQueue,
                              Duration maxQueueWait) {
  public ServiceSettings {
    input = List.copyOf(input);
    output = List.copyOf(output);
  }
}
