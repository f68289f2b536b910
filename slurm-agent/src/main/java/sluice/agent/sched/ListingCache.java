package sluice.agent.sched;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * The last listing, reused by {@link SlurmScheduler#job} for forwards and probes: one squeue per request would put
 * slurmctld under the load of the inference traffic. A running job's entry serves for {@code listing-max-age}; a job
 * missing from it (or not running) is looked up afresh, at most every {@link #MISS_REFRESH}, so a gateway naming
 * unknown ids cannot make the agent hammer slurmctld either. Before asking for a squeue, the cache adopts a newer
 * listing that another agent process on the login node shared ({@link SharedListing}).
 *
 * <p>A submit or cancel by any process on the login node starts a new generation: this process drops its own older
 * listing within {@link #MISS_REFRESH} of it, so a cancelled job is not served as running for listing-max-age.
 */
final class ListingCache {
  static final Duration MISS_REFRESH = Duration.ofMillis(250);

  /** How far the cache answers one lookup: at once, at once with squeue in the background, or not at all. */
  enum Freshness { FRESH, RUNNING_OLD, STALE }

  /** The cache's answer; {@code job} is meaningful unless {@code freshness} is STALE. */
  record Answer(Freshness freshness, Optional<JobInfo> job) {}

  /** Taken before squeue starts: what the listing will be checked against when it is stored. */
  record Ticket(long epoch, Optional<String> generation, Instant at) {}

  private final Duration maxAge;
  private final SharedListing shared;
  private final Predicate<JobListing> plausible;
  private final AtomicReference<JobListing> recent = new AtomicReference<>();
  /** Counts this process's submits and cancels: a listing whose squeue started before the last one is not kept. */
  private final AtomicLong epoch = new AtomicLong();
  private volatile Instant generationCheckedAt = Instant.MIN;

  /** @param plausible whether a listing another process wrote names only what this process would list itself */
  ListingCache(Path stateDir, Duration maxAge, Predicate<JobListing> plausible) {
    this.maxAge = maxAge;
    this.shared = new SharedListing(stateDir);
    this.plausible = plausible;
  }

  Answer lookup(String jobId, Instant now) {
    long startEpoch = epoch.get();
    JobListing last = current(now);
    Freshness fresh = freshness(last, jobId, now);
    if (fresh != Freshness.FRESH) {
      // Another agent process may have listed since (the gateway's poll, or its own lookup): a small file read
      // instead of a squeue of our own.
      Optional<JobListing> other = shared.read(now).filter(plausible);
      if (other.isPresent() && other.get().newerThan(last)) {
        last = keep(other.get(), startEpoch);
        fresh = freshness(last, jobId, now);
      }
    }
    return new Answer(fresh, fresh == Freshness.STALE ? Optional.empty() : last.find(jobId));
  }

  /** The port of a job in the last listing, if it names the job. */
  Optional<Integer> port(String jobId) {
    JobListing l = recent.get();
    return l == null ? Optional.empty() : Optional.ofNullable(l.ports().get(jobId));
  }

  Ticket begin(Instant now) { return new Ticket(epoch.get(), shared.generation(), now); }

  /**
   * Keeps and shares a listing, unless a submit or cancel happened while its squeue ran: then it only answers the
   * call that ran it.
   */
  void store(Ticket ticket, List<JobInfo> jobs, Map<String, Integer> ports) {
    if (!ticket.generation().equals(shared.generation())) return;
    JobListing l = new JobListing(ticket.generation().orElse(null), ticket.at(), jobs, ports);
    if (keep(l, ticket.epoch()) == l) shared.write(l);
  }

  /** After a submit or cancel, neither this process's listing nor the shared one answers for the changed job. */
  void invalidate() {
    epoch.incrementAndGet();
    recent.set(null);
    shared.markStale();
  }

  /** This process's listing, dropped once the login node's generation moved on (checked every MISS_REFRESH). */
  private JobListing current(Instant now) {
    JobListing l = recent.get();
    if (l == null || l.generation() == null || now.isBefore(generationCheckedAt.plus(MISS_REFRESH))) return l;
    generationCheckedAt = now;
    Optional<String> g = shared.generation();
    if (g.isEmpty() || g.get().equals(l.generation())) return l;     // an unreadable mark: keep what we have
    recent.compareAndSet(l, null);
    return recent.get();
  }

  /**
   * A running job's entry serves for listing-max-age. A job listed as pending may have started since (another agent
   * process may already have probed it ready), so it counts as a miss like an unknown id: at most MISS_REFRESH old.
   */
  private Freshness freshness(JobListing l, String jobId, Instant now) {
    if (l == null) return Freshness.STALE;
    Duration age = l.age(now);
    Optional<JobInfo> cached = l.find(jobId);
    if (cached.isPresent() && cached.get().state() == JobState.RUNNING) {
      return age.compareTo(maxAge) < 0 ? Freshness.FRESH : Freshness.RUNNING_OLD;
    }
    return age.compareTo(MISS_REFRESH) < 0 ? Freshness.FRESH : Freshness.STALE;
  }

  /** Keeps the newer of the current listing and {@code l} (a background squeue may finish after a newer one). */
  private JobListing keep(JobListing l, long startEpoch) {
    if (startEpoch != epoch.get()) return recent.get();
    return recent.accumulateAndGet(l, (cur, next) -> next.newerThan(cur) ? next : cur);
  }
}
