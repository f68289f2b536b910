package sluice.bench;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Set;
import java.util.stream.Stream;

/**
 * What the agent's local scheduler knows, read from its state folder: one folder per job ever submitted
 * ({@code <state-dir>/jobs/<id>/job.json} and {@code state.json}) and the id counter {@code jobs/next-id}. This is
 * the scheduler's own record, independent of the gateway's journal, so "no new submission" is checked here.
 *
 * @param nextId the id the next submission will get (1 when nothing was ever submitted)
 */
record AgentJobs(List<Job> jobs, long nextId) {
  private static final Set<String> LIVE = Set.of("PENDING", "CONFIGURING", "RUNNING", "COMPLETING", "SUSPENDED");

  AgentJobs {
    jobs = List.copyOf(jobs);
  }

  /** @param state as the runner last wrote it (a runner that died without writing an end still reads as live here) */
  record Job(String id, String service, Instant submitTime, String state, Long runnerPid) {
    boolean live() {
      return LIVE.contains(state);
    }
  }

  static AgentJobs read(Path stateDir) throws IOException {
    Path jobsDir = stateDir.resolve("jobs");
    List<Job> jobs = new ArrayList<>();
    long nextId = 1;
    if (!Files.isDirectory(jobsDir)) return new AgentJobs(jobs, nextId);
    Path counter = jobsDir.resolve("next-id");
    if (Files.isRegularFile(counter)) nextId = readCounter(counter);
    try (Stream<Path> dirs = Files.list(jobsDir)) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        Path spec = d.resolve("job.json");
        if (!Files.isRegularFile(spec)) continue;                // a submission in progress
        Path state = d.resolve("state.json");
        jobs.add(parse(Api.JSON.readTree(spec.toFile()), Files.isRegularFile(state) ? Api.JSON.readTree(state.toFile()) : null));
      }
    }
    jobs.sort(Comparator.comparingLong(j -> Long.parseLong(j.id())));
    return new AgentJobs(jobs, nextId);
  }

  /**
   * The scheduler rewrites the counter in place (truncate, then write) under its own lock, which a reader does not
   * take: an empty or partial read means a submission is in progress, so read again.
   */
  private static long readCounter(Path counter) throws IOException {
    for (int attempt = 1; ; attempt++) {
      String text = Files.readString(counter).trim();
      if (text.matches("\\d{1,18}")) return Long.parseLong(text);
      if (attempt == 20) throw new IOException(counter + " does not hold a number: '" + text + "'");
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while reading " + counter, e);
      }
    }
  }

  static Job parse(JsonNode spec, JsonNode state) {
    String submit = spec.path("submitTime").asText("");
    JsonNode pid = state == null ? null : state.get("runnerPid");
    return new Job(spec.path("id").asText(), spec.path("service").asText(), submit.isEmpty() ? null : Instant.parse(submit),
        state == null ? "PENDING" : state.path("state").asText("PENDING"),
        pid == null || pid.isNull() ? null : pid.asLong());
  }

  List<Job> of(String service) {
    return jobs.stream().filter(j -> j.service().equals(service)).toList();
  }

  long live(String service) {
    return of(service).stream().filter(Job::live).count();
  }

  List<String> ids() {
    return jobs.stream().map(Job::id).toList();
  }
}
