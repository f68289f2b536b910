package sluice.agent.sched;

import com.fasterxml.jackson.core.type.TypeReference;
import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.Map;
import sluice.agent.wire.Messages.JobState;
import sluice.agent.wire.WireJson;

/**
 * The files of one local job, shared by the agent and the job's runner process (which outlives the agent, as a
 * Slurm job outlives the login-node session that submitted it). Every write is a rename, so a reader never sees a
 * half-written file.
 */
final class LocalJob {
  static final String SPEC = "job.json";
  static final String STATE = "state.json";
  static final String CANCEL = "cancel";

  /** Written once by the agent at submission. */
  record Spec(String id, String service, String tag, String script, String shell, int port, Instant submitTime,
              Long timeLimitSeconds, long killWaitMillis, Map<String, String> environment, String token) {}

  /** Rewritten by the runner on each transition; {@code runnerPid} lets the agent notice a runner that died. */
  record Status(JobState state, Instant startTime, Instant endTime, Integer exitCode, String reason, Long runnerPid) {
    static Status pending(long runnerPid) { return new Status(JobState.PENDING, null, null, null, "None", runnerPid); }
  }

  private LocalJob() {}

  /** The job script's stdout and stderr, named as Slurm's default output file is. */
  static Path outputFile(Path dir, String id) {
    return dir.resolve("slurm-" + id + ".out");
  }

  static Spec readSpec(Path dir) throws IOException {
    return WireJson.MAPPER.readValue(dir.resolve(SPEC).toFile(), Spec.class);
  }

  static Status readStatus(Path dir) throws IOException {
    return WireJson.MAPPER.readValue(dir.resolve(STATE).toFile(), new TypeReference<Status>() {});
  }

  static void write(Path dir, String name, Object value) throws IOException {
    Path tmp = dir.resolve(name + ".tmp");
    Files.deleteIfExists(tmp);
    // Owner only: the spec holds the job's token.
    Files.createFile(tmp, PosixFilePermissions.asFileAttribute(
        PosixFilePermissions.fromString("rw-------")));
    Files.write(tmp, WireJson.bytes(value));
    try {
      Files.move(tmp, dir.resolve(name), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }
  }
}
