package sluice.bridge;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;
import sluice.agent.wire.WireJson;
import sluice.bridge.stream.MuxSource;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.ClusterGateway;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.ProbeOutcome;
import sluice.core.cluster.SlurmState;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.cluster.UpstreamResponse;
import sluice.core.tunnel.TunnelObserver;
import sluice.core.tunnel.TunnelSample;

/**
 * Core's {@link ClusterGateway} over the agent protocol. Control calls are one stream each, answered in the reply
 * head; requests stream both ways. Only jobs tagged by this deployment are reported. Callbacks run on
 * {@code callbacks}, never on the session's reader thread, which must stay free for every other stream.
 *
 * <p>Nothing waits on an agent that stopped answering: while its connection is unresponsive (a ping unanswered for
 * the ping timeout, see {@link AgentConnection#ping(Duration)}) calls are refused at once with
 * {@link ClusterFailure#TUNNEL_UNRESPONSIVE}, and calls waiting for their answer or body fail with it when it is marked.
 */
public final class BridgeClusterGateway implements ClusterGateway, AutoCloseable {
  /**
   * @param control a control call (submit, list, cancel, probe, logs) the agent does not answer in time fails
   * @param ping    a ping unanswered this long marks the connection unresponsive
   * @param silence an open response body that got no byte for this long while the client waited fails; zero: never
   */
  public record Timeouts(Duration control, Duration ping, Duration silence) {}

  private final String cluster;
  private final String tagPrefix;
  private final AgentLink link;
  private final Executor callbacks;
  private final Timeouts timeouts;
  private final Duration reuseListingFor;
  private final Ticker ticker;
  private CompletableFuture<List<JobSnapshot>> jobsInFlight;   // guarded by this: concurrent polls share one call
  private long listedAtNanos;                                  // guarded by this
  private volatile boolean reached;

  /** Production wiring: the age of a listing is measured with {@link Ticker#SYSTEM}. */
  public BridgeClusterGateway(String cluster, String deployment, AgentLink link, Executor callbacks, Timeouts timeouts,
                              Duration reuseListingFor) {
    this(cluster, deployment, link, callbacks, timeouts, reuseListingFor, Ticker.SYSTEM);
  }

  /**
   * @param reuseListingFor a job listing younger than this answers every service's poll, so slurmctld sees one
   *                        {@code squeue} per poll interval per cluster, however many services poll it
   * @param ticker          tells the age of a listing
   */
  public BridgeClusterGateway(String cluster, String deployment, AgentLink link, Executor callbacks, Timeouts timeouts,
                              Duration reuseListingFor, Ticker ticker) {
    this.cluster = cluster;
    this.reuseListingFor = reuseListingFor;
    this.ticker = ticker;
    this.tagPrefix = deployment + ".";
    this.link = link;
    this.callbacks = callbacks;
    this.timeouts = timeouts;
  }

  /**
   * Whether the agent has answered on a connection at least once; until then a call starts connecting. For readiness:
   * a starting gateway node takes no request before it has reached the cluster, and a later outage of the login node
   * does not take every node out of the load balancer (their requests then get the API's own errors).
   */
  public boolean reachedOnce() {
    if (reached) return true;
    if (link.liveConnection().isPresent()) return reached = true;
    link.connection();
    return false;
  }

  /** Starts connecting to the agent now, not on the first call, so the agent starts while the gateway still does. */
  public void connect() {
    link.connection();
  }

  @Override public CompletionStage<JobSnapshot> submit(String service, String tag) {
    return control(new Messages.Submit(service, tag)).whenComplete((r, e) -> forgetListing())
        .thenApply(r -> snapshot(WireJson.convert(r.result(), Messages.JobInfo.class)));
  }

  @Override public synchronized CompletionStage<List<JobSnapshot>> jobs() {
    boolean fresh = jobsInFlight != null && (!jobsInFlight.isDone()
        || (!jobsInFlight.isCompletedExceptionally() && ticker.nanos() - listedAtNanos < reuseListingFor.toNanos()));
    if (!fresh) {
      listedAtNanos = ticker.nanos();
      jobsInFlight = control(new Messages.ListJobs()).thenApply(r -> WireJson.convert(r.result(), Messages.JobList.class).jobs()
          .stream().filter(j -> j.tag() != null && j.tag().startsWith(tagPrefix)).map(BridgeClusterGateway::snapshot).toList());
    }
    return jobsInFlight.copy();
  }

  /** After a submit or cancel the next poll must see Slurm's answer, not the listing from before. */
  private synchronized void forgetListing() {
    if (jobsInFlight != null && jobsInFlight.isDone()) jobsInFlight = null;
  }

  @Override public CompletionStage<Boolean> cancel(String jobId) {
    return control(new Messages.Cancel(jobId)).whenComplete((r, e) -> forgetListing())
        .thenApply(r -> WireJson.convert(r.result(), Messages.CancelResult.class).cancelled());
  }

  @Override public CompletionStage<ProbeOutcome> probe(String service, String jobId) {
    return control(new Messages.Probe(service, jobId)).thenApply(r -> {
      Messages.ProbeResult p = WireJson.convert(r.result(), Messages.ProbeResult.class);
      return new ProbeOutcome(p.ready(), p.detail(), p.timedOut());
    });
  }

  /**
   * The agent's logs call. More lines than the protocol allows are asked as its maximum; the agent may return fewer
   * than asked (its 64 KiB window and the size of a reply head bound them). An agent older than the call resets it
   * with {@code bad_request}.
   */
  @Override public CompletionStage<List<String>> logTail(String service, String jobId, int maxLines) {
    if (maxLines < 1) return CompletableFuture.completedFuture(List.of());
    return control(new Messages.Logs(service, jobId, Math.min(maxLines, Messages.MAX_LOG_LINES)))
        .thenApply(r -> WireJson.convert(r.result(), Messages.LogsResult.class).lines());
  }

  @Override public CompletionStage<UpstreamResponse> forward(UpstreamRequest req) {
    Map<String, String> headers = new LinkedHashMap<>();
    req.headers().forEach((k, v) -> headers.put(k.toLowerCase(Locale.ROOT), v));
    headers.put("content-length", Integer.toString(req.body().size()));
    Messages.Forward call = new Messages.Forward(req.service(), req.jobId(), req.method(), req.path(), headers, req.requestId());
    return link.connection().thenComposeAsync(conn -> {
      MuxStream stream;
      try {
        stream = open(conn, call, req.body().isEmpty());
        if (!req.body().isEmpty()) {
          byte[] body = req.body().toArrayUnsafe();
          stream.offer(body, 0, body.length);               // sent as the agent's credit allows
          stream.finish();
        }
      } catch (IOException | ClusterException e) {
        return CompletableFuture.failedFuture(failure(e));
      }
      // No time limit on the head: a whole completion may come before it. The agent's liveness bounds the wait.
      return answer(conn, stream).handleAsync((reply, err) -> {
        if (err != null) throw new CompletionException(answerFailure(err));
        if (reply.hasError()) throw new CompletionException(refusal(reply));
        return new UpstreamResponse(reply.status(), reply.headers(), MuxSource.of(stream, timeouts.silence(), conn::watch));
      }, callbacks);
    }, callbacks);
  }

  /** One control call: a stream whose reply head carries the whole answer. */
  private CompletableFuture<Messages.Reply> control(Messages.Call call) {
    return link.connection().thenComposeAsync(conn -> {
      MuxStream stream;
      try {
        stream = open(conn, call, true);
      } catch (IOException | ClusterException e) {
        return CompletableFuture.failedFuture(failure(e));
      }
      Duration controlTimeout = timeouts.control();
      return answer(conn, stream).orTimeout(controlTimeout.toMillis(), TimeUnit.MILLISECONDS).handleAsync((reply, err) -> {
        if (err != null) {
          Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
          if (cause instanceof TimeoutException) {
            stream.reset(ProblemCode.CANCELLED, "no answer in time");
            throw new CompletionException(new ClusterException(ClusterFailure.AGENT_TIMEOUT, "the agent of " + cluster
                + " did not answer " + describe(call) + " within " + controlTimeout.toSeconds() + " s"));
          }
          throw new CompletionException(answerFailure(cause));
        }
        if (reply.hasError()) throw new CompletionException(refusal(reply));
        return reply;
      }, callbacks);
    }, callbacks);
  }

  /** Opens a stream, unless the agent is not answering: then nothing is sent and the call fails at once. */
  private static MuxStream open(AgentConnection conn, Messages.Call call, boolean endOfRequest) throws IOException {
    Optional<ClusterException> unresponsive = conn.unresponsive();
    if (unresponsive.isPresent()) throw unresponsive.get();
    return conn.open(call, endOfRequest);
  }

  /** The stream's reply head, or the connection's failure if it is marked unresponsive first (the stream is reset). */
  private static CompletableFuture<Messages.Reply> answer(AgentConnection conn, MuxStream stream) {
    CompletableFuture<Messages.Reply> head = new CompletableFuture<>();
    Runnable unwatch = conn.watch(e -> {
      if (head.completeExceptionally(e)) stream.reset(ProblemCode.CANCELLED, "the agent did not answer in time");
    });
    stream.reply().whenComplete((reply, err) -> {
      unwatch.run();
      if (err != null) head.completeExceptionally(err);
      else head.complete(reply);
    });
    return head;
  }

  /** An error reply of the agent: counted by its code. */
  private ClusterException refusal(Messages.Reply reply) {
    link.problems().seen(reply.error().code());
    return AgentFailures.refusal(reply);
  }

  /** Why a call got no reply head: a reset by the agent is counted by its code (a lost session is not). */
  private ClusterException answerFailure(Throwable err) {
    Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (cause instanceof StreamResetException sre) link.problems().seen(sre.code());
    return failure(cause);
  }

  private ClusterException failure(Throwable err) {
    Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
    if (cause instanceof ClusterException ce) return ce;
    if (cause instanceof StreamResetException sre) {
      String message = sre.code() == ProblemCode.SESSION_CLOSED
          ? "the connection to the agent of " + cluster + " was lost" : "the agent of " + cluster + " reset the call: " + sre.getMessage();
      return AgentFailures.reset(sre, message);
    }
    return new ClusterException(ClusterFailure.UNAVAILABLE, "call to the agent of " + cluster + " failed: " + cause.getMessage());
  }

  private static String describe(Messages.Call call) {
    return call.getClass().getSimpleName().toLowerCase(Locale.ROOT);
  }

  static JobSnapshot snapshot(Messages.JobInfo j) {
    return new JobSnapshot(j.id(), j.service(), j.tag(), SlurmState.parse(j.state() == null ? null : j.state().name()),
        j.node(), j.startTime(), j.endTime(), j.reason(), j.exitCode());
  }

  /**
   * Live figures of the connection when it reaches {@code node}: the tunnel actor's periodic ping, which is also what
   * keeps the connection's liveness (an unanswered one fails the sample with {@link ClusterFailure#TUNNEL_UNRESPONSIVE}).
   */
  public TunnelObserver.Sampler sampler() {
    return node -> link.liveConnection().filter(c -> c.node().equals(node))
        .map(c -> c.ping(timeouts.ping())
            .thenApply(rtt -> Optional.of(new TunnelSample(c.channelCount(), c.openStreams(), rtt))))
        .orElseGet(() -> CompletableFuture.completedFuture(Optional.empty()));
  }

  @Override public void close() {
    link.close();
  }
}
