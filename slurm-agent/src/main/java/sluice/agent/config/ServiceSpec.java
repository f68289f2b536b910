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
                          Set<String> allowedMethods, String healthPath, Map<String, String> environment,
                          SlurmOptions slurm) {
  private static final Pattern ENV_NAME = Pattern.compile("[A-Za-z_][A-Za-z0-9_]{0,127}");

  public ServiceSpec {
    allowedPaths = List.copyOf(allowedPaths);
    allowedMethods = Set.copyOf(allowedMethods);
    environment = Map.copyOf(environment);
    if (slurm == null) slurm = SlurmOptions.NONE;
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

  /** A service without Slurm-specific options (the local scheduler ignores them anyway). */
  public ServiceSpec(String id, Path sbatch, Optional<Duration> timeLimit, List<String> allowedPaths,
                     Set<String> allowedMethods, String healthPath, Map<String, String> environment) {
    this(id, sbatch, timeLimit, allowedPaths, allowedMethods, healthPath, environment, SlurmOptions.NONE);
  }

  /**
   * Per-service sbatch options; empty ones fall back to the agent-wide {@code slurm} section.
   *
   * @param sbatchArgs extra sbatch options, each one argv element {@code --name} or {@code --name=value}
   */
  public record SlurmOptions(Optional<String> partition, Optional<String> account, Optional<String> gres,
                             List<String> sbatchArgs) {
    public static final SlurmOptions NONE = new SlurmOptions(Optional.empty(), Optional.empty(), Optional.empty(), List.of());

    /**
     * Options the agent sets itself. sbatch (getopt_long) also accepts any unambiguous abbreviation, so an argument
     * is refused when its name is a prefix of one of these: {@code --comm=x} would replace the comment the agent
     * recognises its jobs by, {@code --exp=NONE} would drop {@code SLUICE_PORT}.
     */
    static final List<String> RESERVED = List.of("--job-name", "--comment", "--output", "--error", "--chdir",
        "--parsable", "--wrap", "--export", "--export-file", "--time", "--partition", "--account", "--gres", "--array",
        "--test-only");
    private static final Pattern ARG = Pattern.compile("--[A-Za-z][A-Za-z0-9-]*(=[^\\x00-\\x1f\\x7f]*)?");

    public SlurmOptions {
      sbatchArgs = List.copyOf(sbatchArgs);
      for (String a : sbatchArgs) {
        if (!ARG.matcher(a).matches()) {
          throw new IllegalArgumentException("sbatch-args: each argument must be --name or --name=value: " + a);
        }
        int eq = a.indexOf('=');
        String name = eq < 0 ? a : a.substring(0, eq);
        for (String reserved : RESERVED) {
          if (reserved.startsWith(name)) throw new IllegalArgumentException("sbatch-args: " + name + " is set by the agent");
        }
      }
      checkValue("partition", partition);
      checkValue("account", account);
      checkValue("gres", gres);
    }

    /** Values go into one argv element each; reject what could only be a mistake (or an option in disguise). */
    static void checkValue(String key, Optional<String> value) {
      value.ifPresent(v -> {
        if (!VALUE.matcher(v).matches()) throw new IllegalArgumentException(key + " is malformed: " + v);
      });
    }

    private static final Pattern VALUE = Pattern.compile("[A-Za-z0-9_.:,=/+@][A-Za-z0-9_.:,=/+@-]{0,255}");
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
