package sluice.agent.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * One service the agent may run, from its own config on the login node: the only script it submits for that name
 * and the only paths and methods it forwards to.
 */
public record ServiceSpec(String id, Path sbatch, Optional<Duration> timeLimit, List<String> allowedPaths,
                          Set<String> allowedMethods, String healthPath, Map<String, String> environment) {
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");

  public ServiceSpec {
    allowedPaths = List.copyOf(allowedPaths);
    allowedMethods = Set.copyOf(allowedMethods);
    environment = Map.copyOf(environment);
    if (allowedPaths.isEmpty()) throw new IllegalArgumentException("allowed-paths must not be empty");
    for (String p : allowedPaths) {
      if (!p.startsWith("/") || p.contains("..") || p.contains("?")) throw new IllegalArgumentException("bad allowed path: " + p);
    }
    if (!healthPath.startsWith("/")) throw new IllegalArgumentException("health-path must start with /");
    for (String k : environment.keySet()) {
      if (!ENV_NAME.matcher(k).matches()) throw new IllegalArgumentException("bad environment name: " + k);
      if (k.startsWith("SLURM_") || k.startsWith("SLUICE_")) throw new IllegalArgumentException("reserved environment name: " + k);
    }
  }

  /** Whether a forwarded request may reach the model server. The query string plays no part in the decision. */
  public boolean allows(String method, String pathWithQuery) {
    if (!allowedMethods.contains(method)) return false;
    int q = pathWithQuery.indexOf('?');
    String path = q < 0 ? pathWithQuery : pathWithQuery.substring(0, q);
    for (String allowed : allowedPaths) {
      if (allowed.endsWith("/*")) {
        if (path.startsWith(allowed.substring(0, allowed.length() - 1))) return true;
      } else if (allowed.equals(path)) {
        return true;
      }
    }
    return false;
  }
}
