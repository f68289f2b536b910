package sluice.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import sluice.agent.testing.Await;

/**
 * A real gateway in a child JVM, {@code java -jar http-edge/target/sluice.jar serve --config FILE}, as an operator
 * runs it: so a test can kill it with SIGKILL, which no in-process gateway survives to report on. Its output goes to
 * a log file in the test folder; {@link #logTail} quotes it when something goes wrong. A JVM shutdown hook kills
 * every child still running, so a failed or interrupted test run leaves no gateway behind.
 */
final class GatewayProcess implements AutoCloseable {
  private static final Set<Process> RUNNING = ConcurrentHashMap.newKeySet();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  static {
    Runtime.getRuntime().addShutdownHook(new Thread(() -> RUNNING.forEach(Process::destroyForcibly), "gateway-process-reaper"));
  }

  private final Path config;
  private final Path log;
  private final int port;
  private Process process;
  private long startedNanos;

  /** A gateway to run with {@code config} (its {@code sluice.http.port} must be {@code port}), logging to {@code log}. */
  GatewayProcess(Path config, Path log, int port) {
    this.config = config;
    this.log = log;
    this.port = port;
  }

  /** The shaded jar that {@code package} builds; it exists by the time failsafe runs. */
  static Path jar() {
    Path jar = EmbeddedStack.home().resolve("http-edge/target/sluice.jar");
    if (!Files.isRegularFile(jar)) throw new IllegalStateException(jar + " is missing: run the end-to-end tests with mvn verify");
    return jar;
  }

  /** Starts the JVM and returns at once; {@link #awaitReady} waits for a service. */
  GatewayProcess launch() throws IOException {
    if (process != null) throw new IllegalStateException("already launched: " + this);
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx512m", "-jar", jar().toString(), "serve", "--config", config.toString()));
    ProcessBuilder pb = new ProcessBuilder(cmd).directory(config.getParent().toFile())
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectErrorStream(true)
        .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    pb.environment().put("SLUICE_HOME", EmbeddedStack.home().toString());   // sbatch scripts and conf files
    pb.environment().remove("SLUICE_ADMIN_KEY");                              // the config file's key, not the caller's
    startedNanos = System.nanoTime();
    process = pb.start();
    RUNNING.add(process);
    return this;
  }

  /** Launches and waits until {@code service} is ready; returns how long that took. */
  Duration start(String service, Duration timeout) throws Exception {
    launch();
    return awaitReady(service, timeout);
  }

  /** Waits until {@code GET /v1/models} lists {@code service} with {@code status: "ready"}; time since launch. */
  Duration awaitReady(String service, Duration timeout) throws Exception {
    try {
      // An IOException means "not yet": nothing listens yet, or the starting gateway cut an answer short.
      Await.ignoring(IOException.class).until(timeout, "GET /v1/models to list " + service + " as ready", () -> {
        if (!process.isAlive()) throw new AssertionError("gateway exited with " + process.exitValue() + " before " + service + " was ready");
        HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl() + "/v1/models"))
            .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(Duration.ofSeconds(5)).build(),
            HttpResponse.BodyHandlers.ofString());
        boolean ready = false;
        if (r.statusCode() == 200) {
          for (JsonNode m : JSON.readTree(r.body()).path("data")) {
            ready |= m.path("id").asText().equals(service) && m.path("status").asText().equals("ready");
          }
        }
        return new ModelsAnswer(ready, r.statusCode() + " " + r.body());
      }, ModelsAnswer::ready);
      return sinceLaunch();
    } catch (AssertionError e) {                           // timed out, or the gateway exited: its log says why
      throw new AssertionError(e.getMessage() + "\n" + logTail(60), e);
    }
  }

  /** One answer of {@code GET /v1/models}: whether it listed the service as ready, and what it was. */
  private record ModelsAnswer(boolean ready, String answer) {
    @Override public String toString() { return answer; }
  }

  Duration sinceLaunch() { return Duration.ofNanos(System.nanoTime() - startedNanos); }

  long launchedAtNanos() { return startedNanos; }

  String baseUrl() { return "http://127.0.0.1:" + port; }

  int port() { return port; }

  Path log() { return log; }

  ProcessHandle handle() { return process.toHandle(); }

  boolean isAlive() { return process != null && process.isAlive(); }

  /** The exit code of a gateway that has exited. */
  int exitCode() { return process.exitValue(); }

  /** Its descendants whose command line contains {@code marker} (e.g. the local agent), to watch them outlive it. */
  List<ProcessHandle> descendants(String marker) {
    List<ProcessHandle> out = new ArrayList<>();
    process.toHandle().descendants().forEach(p -> {
      try {
        String cmdline = Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline"), StandardCharsets.ISO_8859_1);
        if (cmdline.contains(marker)) out.add(p);
      } catch (IOException e) {
        // gone already
      }
    });
    return out;
  }

  /** SIGKILL, as {@code kill -9} would: no shutdown hook, no coordinated shutdown, nothing flushed. */
  void kill9() throws InterruptedException {
    process.destroyForcibly();
    if (!process.waitFor(30, TimeUnit.SECONDS)) throw new AssertionError("gateway pid " + process.pid() + " survived SIGKILL");
    RUNNING.remove(process);
  }

  /** SIGTERM and wait: the gateway's coordinated shutdown runs; SIGKILL if it takes over a minute. */
  @Override public void close() throws InterruptedException {
    if (process == null) return;
    try {
      if (process.isAlive()) {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
          System.err.println("gateway pid " + process.pid() + " ignored SIGTERM for 60 s; killing it\n" + logTail(40));
          process.destroyForcibly();
          process.waitFor(30, TimeUnit.SECONDS);
        }
      }
    } finally {
      RUNNING.remove(process);
    }
  }

  /** The last {@code lines} lines of the gateway's log. */
  String logTail(int lines) {
    try {
      List<String> all = List.of(new String(Files.readAllBytes(log), StandardCharsets.UTF_8).split("\n"));
      return "---- last lines of " + log + " ----\n" + String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(cannot read " + log + ": " + e.getMessage() + ")";
    }
  }

  @Override public String toString() {
    return "gateway " + (process == null ? "(not launched)" : "pid " + process.pid()) + " on port " + port;
  }
}
