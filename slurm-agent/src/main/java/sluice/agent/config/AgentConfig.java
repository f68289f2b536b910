package sluice.agent.config;

import com.fasterxml.jackson.core.json.JsonReadFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The agent's configuration: {@code agent-reference.json} from the jar (every key, its default and its meaning) with
 * the operator's file merged over it. Unknown keys and bad values fail at start-up, naming the key.
 */
public record AgentConfig(SchedulerKind scheduler, Path stateDir, Path logFile, Level logLevel, int maxStreams,
                          int streamWindow, Upstream upstream, Local local, Slurm slurm,
                          Map<String, ServiceSpec> services) {

  public enum SchedulerKind { LOCAL, SLURM }

  /** @param minFrameInterval a stream's response bytes are joined into one frame per this interval (ResponseFrames); zero: not */
  public record Upstream(Duration connectTimeout, Duration headersTimeout, Duration probeTimeout, long maxRequestBytes,
                         Duration minFrameInterval) {}

  public record Local(Duration killWait, Duration keepFinished, String shell) {}

  /**
   * The {@code slurm} section. Empty options are not passed to sbatch.
   *
   * @param nodeAddress host to forward to, with {@code {node}} standing for the job's node name
   * @param listingMaxAge how old the last squeue listing may be and still answer forwards and probes of a running
   *     job without a new squeue
   * @param sbatch the command: a bare name (looked up in PATH) or an absolute path
   */
  public record Slurm(Duration commandTimeout, int portLow, int portHigh, String nodeAddress, Duration keepFinished,
                      Duration listingMaxAge, Optional<String> partition, Optional<String> account, Optional<String> gres,
                      String sbatch, String squeue, String scancel) {
    public Slurm {
      if (commandTimeout.isZero() || commandTimeout.isNegative()) throw new IllegalArgumentException("command-timeout must be positive");
      if (listingMaxAge.isZero() || listingMaxAge.isNegative()) throw new IllegalArgumentException("listing-max-age must be positive");
      if (portLow < 1024 || portHigh > 65535 || portLow > portHigh) {
        throw new IllegalArgumentException("port-range must be LOW-HIGH within 1024-65535");
      }
      if (nodeAddress.isEmpty() || !nodeAddress.replace("{node}", "n").matches("[A-Za-z0-9._-]+|\\[[0-9A-Fa-f:.]+]")) {
        throw new IllegalArgumentException("node-address must be a host name or address, optionally with {node}: " + nodeAddress);
      }
      ServiceSpec.SlurmOptions.checkValue("partition", partition);
      ServiceSpec.SlurmOptions.checkValue("account", account);
      ServiceSpec.SlurmOptions.checkValue("gres", gres);
    }

    /** Defaults of agent-reference.json, for tests and tools that build a scheduler without a config file. */
    public static Slurm defaults() {
      return new Slurm(Duration.ofSeconds(30), 20000, 39999, "{node}", Duration.ofHours(1), Duration.ofSeconds(30),
          Optional.empty(), Optional.empty(), Optional.empty(), "sbatch", "squeue", "scancel");
    }
  }

  public AgentConfig {
    services = Map.copyOf(services);
  }

  public static final String ROOT = "sluice-agent";
  private static final ObjectMapper LENIENT_JSON = JsonMapper.builder()
      .enable(JsonReadFeature.ALLOW_JAVA_COMMENTS, JsonReadFeature.ALLOW_YAML_COMMENTS, JsonReadFeature.ALLOW_TRAILING_COMMA)
      .build();

  /** Thrown for any problem with the configuration; the message names the file and key. */
  public static final class ConfigError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public ConfigError(String message) { super(message); }
  }

  public static AgentConfig load(Path file) { return load(file, Optional.empty()); }

  /**
   * The config in {@code file}, its {@code state-dir} replaced by {@code stateDir} when given (the embedded gateway
   * keeps the agent's jobs under its own data folder; a login node's forced command never passes one).
   */
  public static AgentConfig load(Path file, Optional<Path> stateDir) {
    JsonNode user;
    try {
      user = LENIENT_JSON.readTree(file.toFile());
    } catch (IOException e) {
      throw new ConfigError("cannot read agent config " + file + ": " + e.getMessage());
    }
    if (user == null || !user.isObject()) throw new ConfigError(file + ": the config must be a JSON object");
    if (stateDir.isPresent()) {
      ObjectNode agent = user.path(ROOT).isObject() ? (ObjectNode) user.get(ROOT) : ((ObjectNode) user).putObject(ROOT);
      agent.put("state-dir", stateDir.get().toAbsolutePath().toString());
    }
    Path base = file.toAbsolutePath().getParent();
    return fromTree(merge(reference(), user, ""), base, file.toString());
  }

  static JsonNode reference() {
    try (InputStream in = AgentConfig.class.getResourceAsStream("/agent-reference.json")) {
      return LENIENT_JSON.readTree(in);
    } catch (IOException | NullPointerException e) {
      throw new IllegalStateException("agent-reference.json missing from the agent jar", e);
    }
  }

  /** Overlays {@code over} onto a copy of {@code base}; only keys the reference knows are allowed, except in maps. */
  static JsonNode merge(JsonNode base, JsonNode over, String path) {
    ObjectNode result = ((ObjectNode) base).deepCopy();
    Iterator<Map.Entry<String, JsonNode>> it = over.fields();
    while (it.hasNext()) {
      Map.Entry<String, JsonNode> e = it.next();
      String key = path.isEmpty() ? e.getKey() : path + "." + e.getKey();
      JsonNode known = result.get(e.getKey());
      boolean freeForm = path.endsWith(".services") || path.endsWith(".environment");
      if (known == null && !freeForm) throw new ConfigError("unknown key " + key);
      if (known != null && known.isObject() && !path.endsWith(".services")) {
        if (!e.getValue().isObject()) throw new ConfigError(key + " must be an object");
        result.set(e.getKey(), merge(known, e.getValue(), key));
      } else {
        result.set(e.getKey(), e.getValue());
      }
    }
    return result;
  }

  private static AgentConfig fromTree(JsonNode root, Path base, String source) {
    JsonNode a = root.path(ROOT);
    try {
      Path stateDir = base.resolve(text(a, "state-dir")).normalize();
      String log = text(a, "log-file");
      Map<String, ServiceSpec> services = new LinkedHashMap<>();
      Iterator<Map.Entry<String, JsonNode>> it = a.path("services").fields();
      while (it.hasNext()) {
        Map.Entry<String, JsonNode> e = it.next();
        services.put(e.getKey(), service(e.getKey(), e.getValue(), base));
      }
      JsonNode up = a.path("upstream");
      JsonNode local = a.path("local");
      JsonNode slurm = a.path("slurm");
      return new AgentConfig(
          enumValue(a, "scheduler"),
          stateDir,
          log.isEmpty() ? stateDir.resolve("agent.log") : base.resolve(log).normalize(),
          Level.parse(text(a, "log-level")),
          positive(a, "max-streams"),
          positive(a, "stream-window"),
          new Upstream(duration(up, "connect-timeout"), duration(up, "headers-timeout"), duration(up, "probe-timeout"),
              positive(up, "max-request-bytes"), atMost(up, "min-frame-interval", MAX_FRAME_INTERVAL)),
          new Local(duration(local, "kill-wait"), duration(local, "keep-finished"), text(local, "shell")),
          slurm(slurm, base),
          services);
    } catch (ConfigError e) {
      throw new ConfigError(source + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new ConfigError(source + ": " + e.getMessage());
    }
  }

  /** Upper bound of upstream.min-frame-interval: tokens held longer than this would be a visible stutter. */
  static final Duration MAX_FRAME_INTERVAL = Duration.ofMillis(100);

  private static final Pattern PORT_RANGE = Pattern.compile("(\\d{1,5})-(\\d{1,5})");

  private static Slurm slurm(JsonNode n, Path base) {
    String where = ROOT + ".slurm.";
    try {
      String range = text(n, "port-range");
      Matcher m = PORT_RANGE.matcher(range);
      if (!m.matches()) throw new ConfigError("port-range must be LOW-HIGH, was " + range);
      return new Slurm(duration(n, "command-timeout"), Integer.parseInt(m.group(1)), Integer.parseInt(m.group(2)),
          text(n, "node-address"), duration(n, "keep-finished"), duration(n, "listing-max-age"),
          optionalText(n, "partition"),
          optionalText(n, "account"), optionalText(n, "gres"), command(n, "sbatch", base), command(n, "squeue", base),
          command(n, "scancel", base));
    } catch (ConfigError | IllegalArgumentException e) {
      throw new ConfigError(where + e.getMessage());
    }
  }

  /** A bare command name stays as it is (PATH lookup at run time); anything with a slash is a path. */
  private static String command(JsonNode n, String key, Path base) {
    String v = text(n, key);
    if (v.isBlank() || v.startsWith("-")) throw new ConfigError(key + " must be a command name or path");
    return v.contains("/") ? base.resolve(v).normalize().toString() : v;
  }

  private static Optional<String> optionalText(JsonNode n, String key) {
    String v = text(n, key);
    return v.isEmpty() ? Optional.empty() : Optional.of(v);
  }

  private static final Set<String> SERVICE_KEYS = Set.of("sbatch", "time-limit", "allowed-paths", "allowed-methods",
      "health-path", "environment", "partition", "account", "gres", "sbatch-args");

  private static ServiceSpec service(String id, JsonNode s, Path base) {
    String where = ROOT + ".services." + id;
    if (!id.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,127}")) throw new ConfigError("bad service id: " + id);
    if (!s.isObject()) throw new ConfigError(where + " must be an object");
    s.fieldNames().forEachRemaining(k -> {
      if (!SERVICE_KEYS.contains(k)) throw new ConfigError("unknown key " + where + "." + k);
    });
    for (String required : List.of("sbatch", "time-limit", "allowed-paths")) {
      if (!s.has(required)) throw new ConfigError(where + "." + required + " is required");
    }
    Path sbatch = base.resolve(s.get("sbatch").asText()).normalize();
    if (!Files.isRegularFile(sbatch)) throw new ConfigError(where + ".sbatch: no such file " + sbatch);
    List<String> paths = strings(s.get("allowed-paths"), where + ".allowed-paths");
    Set<String> methods = new LinkedHashSet<>(s.has("allowed-methods")
        ? strings(s.get("allowed-methods"), where + ".allowed-methods") : List.of("GET", "POST"));
    Map<String, String> env = new LinkedHashMap<>();
    s.path("environment").fields().forEachRemaining(e -> env.put(e.getKey(), e.getValue().asText()));
    for (String key : List.of("partition", "account", "gres")) {
      if (s.has(key) && !s.get(key).isTextual()) throw new ConfigError(where + "." + key + " must be a string");
    }
    List<String> sbatchArgs = s.has("sbatch-args") ? strings(s.get("sbatch-args"), where + ".sbatch-args") : List.of();
    try {
      var slurm = new ServiceSpec.SlurmOptions(serviceText(s, "partition"), serviceText(s, "account"),
          serviceText(s, "gres"), sbatchArgs);
      return new ServiceSpec(id, sbatch, SlurmTime.parse(s.get("time-limit").asText()), paths, methods,
          s.path("health-path").asText("/health"), env, slurm);
    } catch (IllegalArgumentException e) {
      throw new ConfigError(where + ": " + e.getMessage());
    }
  }

  private static Optional<String> serviceText(JsonNode s, String key) {
    return s.has(key) && !s.get(key).asText().isEmpty() ? Optional.of(s.get(key).asText()) : Optional.empty();
  }

  private static List<String> strings(JsonNode n, String where) {
    if (n == null || !n.isArray()) throw new ConfigError(where + " must be a list of strings");
    List<String> out = new ArrayList<>();
    n.forEach(v -> {
      if (!v.isTextual()) throw new ConfigError(where + " must be a list of strings");
      out.add(v.asText());
    });
    return out;
  }

  private static String text(JsonNode n, String key) {
    JsonNode v = n.get(key);
    if (v == null || !v.isTextual()) throw new ConfigError(key + " must be a string");
    return v.asText();
  }

  private static int positive(JsonNode n, String key) {
    JsonNode v = n.get(key);
    if (v == null || !v.canConvertToInt() || v.asInt() <= 0) throw new ConfigError(key + " must be a positive integer");
    return v.asInt();
  }

  private static Duration duration(JsonNode n, String key) {
    try {
      return Durations.parse(text(n, key));
    } catch (IllegalArgumentException e) {
      throw new ConfigError(key + ": " + e.getMessage());
    }
  }

  /** A duration up to {@code max}: a bound a typo (10s for 10ms) cannot turn into a stalled stream. */
  private static Duration atMost(JsonNode n, String key, Duration max) {
    Duration d = duration(n, key);
    if (d.compareTo(max) > 0) throw new ConfigError(key + " must be at most " + max.toMillis() + "ms, was " + text(n, key));
    return d;
  }

  private static SchedulerKind enumValue(JsonNode n, String key) {
    String v = text(n, key);
    try {
      return SchedulerKind.valueOf(v.toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigError(key + " must be local or slurm, was " + v);
    }
  }

  public ServiceSpec service(String id) { return services.get(id); }
}
