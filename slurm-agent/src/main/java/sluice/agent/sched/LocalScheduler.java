package sluice.agent.sched;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.logging.Logger;
import java.util.stream.Stream;
import sluice.agent.ClassDataSharing;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.wire.Messages.CancelResult;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * The embedded default: "Slurm jobs" are job scripts run by bash on this machine, each under a detached
 * {@link LocalJobRunner}. Job ids, states, time limits, {@code SLURM_JOB_ID} and {@code SLUICE_PORT} follow Slurm's
 * semantics, so everything above the agent behaves as it will on a cluster. State lives in files under the state
 * folder, so jobs and their final states survive agent restarts, and several agents may share the folder.
 */
public final class LocalScheduler implements Scheduler {
  private static final Logger LOG = Logger.getLogger(LocalScheduler.class.getName());
  static final String NODE = "localhost";

  private final Path jobsDir;
  private final Path lockFile;
  private final AgentConfig.Local settings;
  private final List<String> runnerCommand;
  private final Clock clock;
  /** Specs never change once written: read each from disk once, not on every forward. */
  private final Map<Path, LocalJob.Spec> specs = new ConcurrentHashMap<>();

  public LocalScheduler(Path stateDir, AgentConfig.Local settings, List<String> runnerCommand, Clock clock) {
    this.jobsDir = stateDir.resolve("jobs");
    this.lockFile = stateDir.resolve("jobs.lock");
    this.settings = settings;
    this.runnerCommand = List.copyOf(runnerCommand);
    this.clock = clock;
    try {
      Files.createDirectories(jobsDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + jobsDir, e);
    }
  }

  /**
   * Runs {@link LocalJobRunner} with the agent's own JVM and class path (and its class-data archive), in a session of
   * its own when setsid exists.
   */
  public static List<String> defaultRunnerCommand() {
    String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
    List<String> cmd = new ArrayList<>();
    // A new session keeps jobs alive when the agent's terminal or process group is signalled, like real Slurm jobs.
    if (new File("/usr/bin/setsid").canExecute()) cmd.add("/usr/bin/setsid");
    String classPath = System.getProperty("java.class.path");
    cmd.addAll(List.of(java, "-Xmx32m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xshare:auto"));
    cmd.addAll(ClassDataSharing.options(classPath, "runner", System.getenv()));
    cmd.addAll(List.of("-cp", classPath, LocalJobRunner.class.getName()));
    return cmd;
  }

  @Override public JobInfo submit(ServiceSpec service, String tag) throws SchedulerException {
    return SubmitLock.holding(lockFile, () -> {
      Optional<JobInfo> existing = findByTag(tag);
      if (existing.isPresent()) return existing.get();          // a retried submit must not start a second job
      String id = Long.toString(nextId());
      Path dir = jobsDir.resolve(id);
      Files.createDirectories(dir);
      Instant now = clock.instant();
      LocalJob.Spec spec = new LocalJob.Spec(id, service.id(), tag, service.sbatch().toString(), settings.shell(),
          freePort(), now, service.timeLimit().map(Duration::getSeconds).orElse(null), settings.killWait().toMillis(),
          service.environment(), JobTokens.newToken());
      LocalJob.write(dir, LocalJob.SPEC, spec);
      List<String> cmd = new ArrayList<>(runnerCommand);
      cmd.add(dir.toString());
      Process runner = new ProcessBuilder(cmd)
          .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
          .redirectErrorStream(true)
          // Never the agent's stdout: the runner outlives the agent and must not hold the protocol pipe open.
          .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("runner.log").toFile()))
          .start();
      LocalJob.write(dir, LocalJob.STATE, LocalJob.Status.pending(runner.pid()));
      LOG.info(() -> "submitted local job " + id + " for service " + service.id() + " tag " + tag);
      return info(dir).orElseThrow();
    });
  }

  @Override public List<JobInfo> jobs() throws SchedulerException {
    List<JobInfo> out = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(jobsDir)) {
      for (Path dir : dirs.sorted(Comparator.comparing(p -> p.getFileName().toString())).toList()) {
        info(dir).ifPresent(out::add);
      }
    } catch (IOException e) {
      throw new SchedulerException("cannot list local jobs: " + e.getMessage(), e);
    }
    return out;
  }

  @Override public Optional<JobInfo> job(String jobId) throws SchedulerException {
    if (!jobId.matches("[0-9]{1,18}")) return Optional.empty();
    try {
      return info(jobsDir.resolve(jobId));
    } catch (IOException e) {
      throw new SchedulerException("cannot read local job " + jobId + ": " + e.getMessage(), e);
    }
  }

  @Override public Optional<CancelResult> cancel(String jobId) throws SchedulerException {
    Optional<JobInfo> job = job(jobId);
    if (job.isEmpty()) return Optional.empty();
    if (job.get().state().isFinal()) return Optional.of(new CancelResult(jobId, false, job.get().state()));
    try {
      Files.writeString(jobsDir.resolve(jobId).resolve(LocalJob.CANCEL), "cancel\n", StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new SchedulerException("cannot cancel local job " + jobId + ": " + e.getMessage(), e);
    }
    LOG.info(() -> "cancel requested for local job " + jobId);
    return Optional.of(new CancelResult(jobId, true, job.get().state()));
  }

  @Override public Optional<URI> endpoint(JobInfo job) {
    if (job.state() != JobState.RUNNING) return Optional.empty();
    try {
      int port = spec(jobsDir.resolve(job.id())).port();
      return Optional.of(URI.create("http://127.0.0.1:" + port));
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  @Override public Optional<Path> outputFile(JobInfo job) {
    return Optional.of(LocalJob.outputFile(jobsDir.resolve(job.id()), job.id()));
  }

  @Override public Optional<String> token(JobInfo job) {
    try {
      return Optional.ofNullable(spec(jobsDir.resolve(job.id())).token());
    } catch (IOException e) {
      return Optional.empty();
    }
  }

  /** The job as Slurm would report it, or empty once it is unknown or finished longer than {@code keep-finished}. */
  private Optional<JobInfo> info(Path dir) throws IOException {
    if (!Files.isRegularFile(dir.resolve(LocalJob.STATE))) return Optional.empty();
    LocalJob.Spec spec = spec(dir);
    LocalJob.Status status = LocalJob.readStatus(dir);
    JobState state = status.state();
    String reason = status.reason();
    Instant end = status.endTime();
    if (!state.isFinal() && status.runnerPid() != null && ProcessHandle.of(status.runnerPid()).isEmpty()) {
      // The runner died without recording an end (killed, or the machine rebooted): Slurm would call it a node failure.
      state = JobState.NODE_FAIL;
      reason = "local job runner is gone";
      end = null;
    }
    if (state.isFinal() && end != null && end.plus(settings.keepFinished()).isBefore(clock.instant())) {
      return Optional.empty();
    }
    return Optional.of(new JobInfo(spec.id(), spec.service(), spec.tag(), state, state == JobState.PENDING ? null : NODE,
        spec.submitTime(), status.startTime(), end, spec.timeLimitSeconds(), reason, status.exitCode()));
  }

  private LocalJob.Spec spec(Path dir) throws IOException {
    LocalJob.Spec cached = specs.get(dir);
    if (cached != null) return cached;
    LocalJob.Spec read = LocalJob.readSpec(dir);
    specs.put(dir, read);
    return read;
  }

  private Optional<JobInfo> findByTag(String tag) throws IOException {
    try (Stream<Path> dirs = Files.list(jobsDir)) {
      for (Path dir : dirs.toList()) {
        if (Files.isRegularFile(dir.resolve(LocalJob.SPEC)) && spec(dir).tag().equals(tag)) return info(dir);
      }
    }
    return Optional.empty();
  }

  /** Next job id; the caller holds the lock. Ids never repeat, even after old job folders are gone. */
  private long nextId() throws IOException {
    Path counter = jobsDir.resolve("next-id");
    long id = Files.exists(counter) ? Long.parseLong(Files.readString(counter).trim()) : 1;
    Files.writeString(counter, Long.toString(id + 1));
    return id;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
