package sluice.core.cluster;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BiFunction;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.cluster.typed.ClusterSingleton;
import org.apache.pekko.cluster.typed.SingletonActor;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.Asks;
import sluice.core.CborSerializable;

/**
 * One job listing per HPC cluster for the whole gateway cluster, whatever the number of gateway nodes and services:
 * a cluster singleton per HPC cluster lists the jobs through its own node's connection and answers every service's
 * poll from that listing while it is younger than the reuse period, so slurmctld sees one {@code squeue} per poll
 * interval. Everything else (submit, cancel, probe, forward) goes through the asking node's own connection; a submit
 * or a cancel makes the next poll list afresh.
 *
 * <p>While the singleton cannot be reached (its node just died and it has not started elsewhere yet) a poll lists
 * through the local connection instead: a few extra listings during a fail-over, never a poll that fails for it.
 */
public final class SharedListing {
  private static final Logger LOG = LoggerFactory.getLogger(SharedListing.class);

  private SharedListing() {}

  public sealed interface Command extends CborSerializable {}

  /**
   * A service's poll. {@code maxAge} (nullable: the reuse period) bounds the age of the listing that may answer it:
   * a poll right after a submission wants to see the new job's progress, not what a listing of a moment ago saw.
   */
  public record GetJobs(ActorRef<Listing> replyTo, Duration maxAge) implements Command {}

  /** A job was submitted or cancelled: the next poll lists afresh. */
  public enum Forget implements Command { INSTANCE }

  /** The jobs of the HPC cluster, or why they could not be listed ({@code failure} null on success). */
  public record Listing(List<JobSnapshot> jobs, ClusterFailure failure, String message) implements CborSerializable {}

  private record Listed(Listing listing, Instant at) implements Command {}

  /**
   * Starts the singleton of every HPC cluster (each node runs the same call; the singleton runs on the oldest node)
   * and returns the gateways the services use: this node's, with {@code jobs()} answered by the singleton.
   *
   * @param reuseFor per HPC cluster, how long a listing answers polls
   */
  public static Map<String, ClusterGateway> start(ActorSystem<?> system, Map<String, ClusterGateway> local,
                                                  Map<String, Duration> reuseFor, Duration askTimeout, Clock clock) {
    Map<String, ClusterGateway> out = new LinkedHashMap<>();
    local.forEach((name, gateway) -> {
      ActorRef<Command> singleton = ClusterSingleton.get(system).init(SingletonActor.of(
          Behaviors.supervise(lister(gateway, reuseFor.get(name), clock)).onFailure(SupervisorStrategy.restart()),
          "job-listing-" + name));
      out.put(name, new Shared(gateway, singleton, system, askTimeout));
    });
    return out;
  }

  /** The singleton: one listing in flight at a time, reused while younger than {@code reuseFor}. */
  static Behavior<Command> lister(ClusterGateway gateway, Duration reuseFor, Clock clock) {
    return Behaviors.setup(ctx -> {
      Lister l = new Lister(reuseFor, clock);
      return Behaviors.receive(Command.class)
          .onMessage(GetJobs.class, g -> {
            if (l.fresh(g.maxAge())) g.replyTo().tell(l.last);
            else if (l.waiting.add(g.replyTo()) && l.waiting.size() == 1) ctx.pipeToSelf(gateway.jobs(), l.answer(clock.instant())::apply);
            return Behaviors.same();
          })
          .onMessage(Forget.class, f -> {
            l.last = null;
            return Behaviors.same();
          })
          .onMessage(Listed.class, done -> {
            l.last = done.listing();
            l.lastAt = done.at();
            l.waiting.forEach(w -> w.tell(done.listing()));
            l.waiting.clear();
            return Behaviors.same();
          })
          .build();
    });
  }

  /** The singleton's state: the last listing and the polls waiting for the one in flight. */
  private static final class Lister {
    private final Duration reuseFor;
    private final Clock clock;
    private final List<ActorRef<Listing>> waiting = new ArrayList<>();
    private Listing last;
    private Instant lastAt = Instant.MIN;

    Lister(Duration reuseFor, Clock clock) {
      this.reuseFor = reuseFor;
      this.clock = clock;
    }

    boolean fresh(Duration maxAge) {
      Duration age = maxAge != null && maxAge.compareTo(reuseFor) < 0 ? maxAge : reuseFor;
      return last != null && last.failure() == null && clock.instant().isBefore(lastAt.plus(age));
    }

    BiFunction<List<JobSnapshot>, Throwable, Command> answer(Instant asked) {
      return (jobs, e) -> {
        if (e == null) return new Listed(new Listing(jobs, null, null), asked);
        ClusterException c = ClusterException.in(e).orElse(null);
        return new Listed(new Listing(List.of(), c == null ? ClusterFailure.UNAVAILABLE : c.reason(),
            c == null ? String.valueOf(e.getMessage()) : c.getMessage()), asked);
      };
    }
  }

  /** This node's gateway, with its job listing taken from the singleton. */
  private record Shared(ClusterGateway local, ActorRef<Command> singleton, ActorSystem<?> system, Duration askTimeout)
      implements ClusterGateway {
    @Override public CompletionStage<List<JobSnapshot>> jobs() { return jobs(null); }

    @Override public CompletionStage<List<JobSnapshot>> jobs(Duration maxAge) {
      CompletionStage<Listing> asked = AskPattern.ask(singleton, replyTo -> new GetJobs(replyTo, maxAge), askTimeout,
          system.scheduler());
      return Asks.plain(asked).handle((listing, e) -> {
        if (e != null) {
          LOG.warn("the shared job listing did not answer within {} ms ({}); listing through this node", askTimeout.toMillis(),
              e.getMessage());
          return local.jobs();
        }
        if (listing.failure() != null) {
          return CompletableFuture.<List<JobSnapshot>>failedFuture(new ClusterException(listing.failure(), listing.message()));
        }
        return CompletableFuture.completedFuture(listing.jobs());
      }).thenCompose(s -> s);
    }

    @Override public CompletionStage<JobSnapshot> submit(String service, String tag) {
      return local.submit(service, tag).whenComplete((j, e) -> singleton.tell(Forget.INSTANCE));
    }

    @Override public CompletionStage<Boolean> cancel(String jobId) {
      return local.cancel(jobId).whenComplete((c, e) -> singleton.tell(Forget.INSTANCE));
    }

    @Override public CompletionStage<ProbeOutcome> probe(String service, String jobId) { return local.probe(service, jobId); }

    @Override public CompletionStage<List<String>> logTail(String service, String jobId, int maxLines) {
      return local.logTail(service, jobId, maxLines);
    }

    @Override public CompletionStage<UpstreamResponse> forward(UpstreamRequest request) { return local.forward(request); }
  }
}
