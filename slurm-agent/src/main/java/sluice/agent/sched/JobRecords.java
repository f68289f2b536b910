package sluice.agent.sched;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Logger;
import java.util.stream.Stream;
import sluice.agent.sched.Scheduler.SchedulerException;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;
import sluice.agent.wire.WireJson;

/**
 * What the agent remembers of its Slurm jobs, in {@code <state-dir>/slurm-jobs}: {@code <id>.json} with the job's last
 * known state (squeue forgets a job after MinJobAge), and {@code <id>.token} with its secret. Shared by every agent
 * process on the login node, so every write is a temp file and a rename ({@link AtomicFiles}).
 */
final class JobRecords {
  private static final Logger LOG = Logger.getLogger(JobRecords.class.getName());

  /** What the agent remembers of one of its jobs, so it can report the job after squeue has forgotten it. */
  record Remembered(String id, String service, String tag, int port, Instant submitTime, JobState state, String node,
                    Instant startTime, Instant endTime, Long timeLimitSeconds, String reason, String token) {
    static Remembered of(JobInfo j, int port, String token) {
      return new Remembered(j.id(), j.service(), j.tag(), port, j.submitTime(), j.state(), j.node(), j.startTime(),
          j.endTime(), j.timeLimitSeconds(), j.reason(), token);
    }

    JobInfo toJobInfo() {
      return new JobInfo(id, service, tag, state, node, submitTime, startTime, endTime, timeLimitSeconds, reason, null);
    }
  }

  private final Path dir;

  JobRecords(Path dir) {
    this.dir = dir;
    try {
      Files.createDirectories(dir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + dir, e);
    }
  }

  /** Every readable record, by job id. */
  Map<String, Remembered> all() throws SchedulerException {
    Map<String, Remembered> out = new HashMap<>();
    try (Stream<Path> files = Files.list(dir)) {
      for (Path f : files.filter(p -> p.getFileName().toString().matches("[0-9]{1,18}\\.json")).toList()) {
        read(f).ifPresent(r -> out.put(r.id(), r));
      }
    } catch (IOException e) {
      throw new SchedulerException("cannot read " + dir + ": " + e.getMessage(), e);
    }
    return out;
  }

  /** The record of job {@code id} (a checked job id), if there is a readable one. */
  Optional<Remembered> read(String id) { return read(dir.resolve(id + ".json")); }

  private static Optional<Remembered> read(Path f) {
    try {
      Remembered r = WireJson.MAPPER.readValue(f.toFile(), Remembered.class);
      if (r == null || r.id() == null || !f.getFileName().toString().equals(r.id() + ".json") || r.state() == null) {
        return Optional.empty();
      }
      return Optional.of(r);
    } catch (IOException e) {
      if (Files.exists(f)) LOG.warning(() -> "ignoring unreadable " + f + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  /** Temp file + rename: readers in other agent processes see the old or the new file, never half of one. */
  void write(Remembered r) throws SchedulerException {
    Path target = dir.resolve(r.id() + ".json");
    try {
      AtomicFiles.replace(target, WireJson.bytes(r));
    } catch (IOException e) {
      throw new SchedulerException("cannot write " + target + ": " + e.getMessage(), e);
    }
  }

  /**
   * The job's secret in a file of its own, written once by the agent process that submitted the job. Records in
   * {@code <id>.json} are rewritten by every agent process's listing, and one that started before the submitter wrote
   * its record would write it back without the secret, so the secret never lives there.
   */
  void writeToken(String id, String token) throws SchedulerException {
    Path target = tokenFile(id);
    try {
      AtomicFiles.replace(target, token.getBytes(StandardCharsets.UTF_8));          // owner-only, like every temp file
    } catch (IOException e) {
      throw new SchedulerException("cannot write " + target + ": " + e.getMessage(), e);
    }
  }

  /** The job's secret; a record from before token files may still hold it. */
  Optional<String> token(String id) {
    try {
      return Optional.of(Files.readString(tokenFile(id)).strip());
    } catch (IOException e) {
      return read(id).map(Remembered::token);
    }
  }

  void delete(String id) {
    try {
      Files.deleteIfExists(tokenFile(id));
      Files.deleteIfExists(dir.resolve(id + ".json"));
    } catch (IOException e) {
      LOG.warning(() -> "cannot delete " + dir.resolve(id + ".json") + ": " + e.getMessage());
    }
  }

  private Path tokenFile(String id) { return dir.resolve(id + ".token"); }
}
