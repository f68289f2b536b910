package sluice.agent.sched;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import sluice.agent.wire.Messages.JobInfo;

/**
 * One squeue listing of the agent's jobs with each job's port (from its comment, which squeue shows to everyone: no
 * secret). {@code at} is when squeue started, so a listing is never taken for newer than what Slurm knew;
 * {@code generation} is the login node's listing generation then (see {@link SharedListing}), null if unknown.
 */
record JobListing(String generation, Instant at, List<JobInfo> jobs, Map<String, Integer> ports) {
  JobListing {
    Objects.requireNonNull(at, "at");
    jobs = List.copyOf(jobs);
    ports = Map.copyOf(ports);
  }

  Optional<JobInfo> find(String id) {
    return jobs.stream().filter(j -> j.id().equals(id)).findFirst();
  }

  Duration age(Instant now) { return Duration.between(at, now); }

  boolean newerThan(JobListing other) { return other == null || at.isAfter(other.at); }
}
