package sluice.agent.sched;

import java.io.File;
import java.io.IOException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import sluice.agent.wire.Messages.JobState;

/**
 * The local scheduler's stand-in for slurmstepd: a small process per job, detached from the agent, that runs the job
 * script, enforces the time limit (SIGTERM, then SIGKILL after the kill wait), honours cancellation and records each
 * state transition in the job's folder. Usage: {@code LocalJobRunner <job folder>}.
 */
public final class LocalJobRunner {
  private static final Duration TICK = Duration.ofMillis(100);

  private LocalJobRunner() {}

  public static void main(String[] args) throws Exception {
    if (args.length != 1) {
      System.err.println("usage: LocalJobRunner <job folder>");
      System.exit(2);
    }
    Path dir = Path.of(args[0]);
    LocalJob.Spec spec = LocalJob.readSpec(dir);
    long self = ProcessHandle.current().pid();
    if (Files.exists(dir.resolve(LocalJob.CANCEL))) {           // cancelled while pending
      finish(dir, null, JobState.CANCELLED, null, "cancelled before start", self);
      return;
    }

    Path output = LocalJob.outputFile(dir, spec.id());
    ProcessBuilder pb = new ProcessBuilder(List.of(spec.shell(), spec.script()))
        .directory(dir.toFile())
        .redirectErrorStream(true)                              // stderr into the same file, as sbatch does
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(output.toFile()));
    Map<String, String> env = pb.environment();
    env.putAll(spec.environment());
    env.put("SLURM_JOB_ID", spec.id());
    env.put("SLURM_JOB_NAME", "sluice-" + spec.service());
    env.put("SLURMD_NODENAME", "localhost");
    env.put("SLURM_SUBMIT_DIR", dir.toString());
    env.put("SLUICE_PORT", Integer.toString(spec.port()));
    env.put("SLUICE_SERVICE", spec.service());
    env.put("SLUICE_JOB_TAG", spec.tag());
    if (spec.token() != null) env.put("SLUICE_JOB_TOKEN", spec.token());

    Instant start = Instant.now();
    Instant deadline = spec.timeLimitSeconds() == null ? null : start.plusSeconds(spec.timeLimitSeconds());
    Process job;
    try {
      createOwnerOnly(output);
      job = pb.start();
    } catch (IOException e) {
      finish(dir, start, JobState.FAILED, 127, "could not start: " + e.getMessage(), self);
      return;
    }
    LocalJob.write(dir, LocalJob.STATE, new LocalJob.Status(JobState.RUNNING, start, deadline, null, "None", self));

    while (!job.waitFor(TICK.toMillis(), TimeUnit.MILLISECONDS)) {
      boolean cancelled = Files.exists(dir.resolve(LocalJob.CANCEL));
      boolean expired = deadline != null && Instant.now().isAfter(deadline);
      if (cancelled || expired) {
        stop(job, Duration.ofMillis(spec.killWaitMillis()));
        finish(dir, start, cancelled ? JobState.CANCELLED : JobState.TIMEOUT, exitCode(job),
            cancelled ? "cancelled" : "time limit reached", self);
        return;
      }
    }
    int code = job.exitValue();
    finish(dir, start, code == 0 ? JobState.COMPLETED : JobState.FAILED, code, code == 0 ? "None" : "NonZeroExitCode", self);
  }

  /** SIGTERM to the script and everything it started, then SIGKILL to whatever is left after {@code killWait}. */
  private static void stop(Process job, Duration killWait) throws InterruptedException {
    List<ProcessHandle> tree = job.descendants().toList();
    job.toHandle().destroy();
    tree.forEach(ProcessHandle::destroy);
    long until = System.nanoTime() + killWait.toNanos();
    while (System.nanoTime() < until && (job.isAlive() || tree.stream().anyMatch(ProcessHandle::isAlive))) {
      Thread.sleep(TICK.toMillis());
    }
    job.descendants().forEach(ProcessHandle::destroyForcibly);
    tree.forEach(ProcessHandle::destroyForcibly);
    job.destroyForcibly();
    job.waitFor(5, TimeUnit.SECONDS);
  }

  /** Owner only, before the job writes to it: the job may print its token (vLLM logs its arguments). */
  private static void createOwnerOnly(Path file) throws IOException {
    try {
      Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
    } catch (FileAlreadyExistsException e) {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
    }
  }

  private static Integer exitCode(Process p) {
    return p.isAlive() ? null : p.exitValue();
  }

  private static void finish(Path dir, Instant start, JobState state, Integer code, String reason, long self) throws IOException {
    LocalJob.write(dir, LocalJob.STATE, new LocalJob.Status(state, start, Instant.now(), code, reason, self));
  }
}
