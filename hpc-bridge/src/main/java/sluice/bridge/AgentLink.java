package sluice.bridge;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.agent.wire.ProblemCode;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.tunnel.TunnelObserver;

/**
 * Keeps one usable connection to a cluster's agent: connects on first use, and after the connection ends, connects
 * again with full-jitter exponential backoff. Callers get the current connection, or wait for the next one up to
 * {@code waitLimit} instead of failing at once while a reconnect is under way. A fatal failure (authentication or host
 * key) is retried only at the slowest pace, so a misconfigured gateway does not hammer a login node (and trip
 * OpenSSH's {@code MaxStartups} or {@code PerSourcePenalties}).
 */
public final class AgentLink implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(AgentLink.class);

  private final String cluster;
  private final AgentTransport transport;
  private final Executor blocking;
  private final Duration minBackoff;
  private final Duration maxBackoff;
  private final Duration waitLimit;
  private final TunnelObserver observer;
  private final AgentProblems problems;
  private CompletableFuture<AgentConnection> current;   // guarded by this
  private int failures;                                  // guarded by this
  private boolean lastFatal;                             // guarded by this
  private boolean closed;                                // guarded by this
  private volatile String lastFailure;

  public AgentLink(String cluster, AgentTransport transport, Executor blocking, Duration minBackoff, Duration maxBackoff,
                   Duration waitLimit, TunnelObserver observer) {
    this(cluster, transport, blocking, minBackoff, maxBackoff, waitLimit, observer, AgentProblems.NONE);
  }

  /** @param problems counts the protocol problems seen on this cluster's connections (and by its gateway's calls) */
  public AgentLink(String cluster, AgentTransport transport, Executor blocking, Duration minBackoff, Duration maxBackoff,
                   Duration waitLimit, TunnelObserver observer, AgentProblems problems) {
    this.cluster = cluster;
    this.observer = observer;
    this.problems = problems;
    this.transport = transport;
    this.blocking = blocking;
    this.minBackoff = minBackoff;
    this.maxBackoff = maxBackoff;
    this.waitLimit = waitLimit;
  }

  /** The live connection, connecting if needed. Fails with {@link ClusterException} {@code unavailable} after the wait limit. */
  public CompletableFuture<AgentConnection> connection() {
    CompletableFuture<AgentConnection> c;
    synchronized (this) {
      if (closed) return CompletableFuture.failedFuture(unavailable("the gateway is shutting down"));
      if (current == null || (current.isDone() && !usable(current))) {
        Duration delay = current == null ? Duration.ZERO : nextDelay();
        if (!delay.isZero()) observer.backingOff(delay);
        current = connectLater(delay);
      }
      c = current;
    }
    if (c.isDone() && !c.isCompletedExceptionally()) return CompletableFuture.completedFuture(c.join());  // hot path: no timer
    return c.copy().orTimeout(waitLimit.toMillis(), TimeUnit.MILLISECONDS)
        .exceptionallyCompose(err -> CompletableFuture.failedFuture(
            err instanceof ClusterException ? err : unavailable("no connection to the agent of " + cluster
                + (lastFailure == null ? "" : " (" + lastFailure + ")"))));
  }

  private static boolean usable(CompletableFuture<AgentConnection> f) {
    return !f.isCompletedExceptionally() && f.join().isUsable();
  }

  private Duration nextDelay() {
    // Full jitter: uniform in [0, min(max, base * 2^failures)], so a fleet of gateways does not reconnect in step.
    if (lastFatal) return maxBackoff;
    long cap = Math.min(maxBackoff.toMillis(), minBackoff.toMillis() << Math.min(failures, 20));
    return Duration.ofMillis(ThreadLocalRandom.current().nextLong(cap + 1));
  }

  private CompletableFuture<AgentConnection> connectLater(Duration delay) {
    Executor delayed = CompletableFuture.delayedExecutor(delay.toMillis(), TimeUnit.MILLISECONDS, blocking);
    CompletableFuture<AgentConnection> f = CompletableFuture.supplyAsync(() -> {
      try {
        return transport.connect(observer);
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    }, delayed);
    f.whenComplete((conn, err) -> {
      synchronized (this) {
        if (err != null) {
          failures++;
          Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
          lastFatal = cause instanceof AgentTransport.ConnectFailure cf && cf.fatal();
          lastFailure = cause.getMessage() == null ? rootMessage(err) : cause.getMessage();
          if (lastFatal) {
            LOG.error("ALERT: cannot connect to the agent of cluster {} and retrying will not help until an operator acts "
                + "(attempt {}, next in {} s): {}", cluster, failures, maxBackoff.toSeconds(), lastFailure);
          } else {
            LOG.warn("cannot connect to the agent of cluster {} (attempt {}): {}", cluster, failures, lastFailure);
          }
          return;
        }
        failures = 0;
        lastFatal = false;
        lastFailure = null;
        if (closed) {
          conn.close();
          return;
        }
      }
      LOG.info("connected to the agent of cluster {} on {} with {} channel(s)", cluster, conn.node(), conn.channelCount());
      conn.closed().thenAccept(reason -> {
        problems.seen(reason.code());
        observer.down(conn.node(), reason.code().wire() + ": " + reason.message());
        if (reason.code() != ProblemCode.NORMAL) {
          lastFailure = reason.code().wire() + ": " + reason.message();
          LOG.warn("connection to the agent of cluster {} on {} ended: {}", cluster, conn.node(), lastFailure);
        }
      });
    });
    return f;
  }

  AgentProblems problems() { return problems; }

  /** The live connection, if there is one now; never starts a connection. */
  public Optional<AgentConnection> liveConnection() {
    CompletableFuture<AgentConnection> c;
    synchronized (this) {
      c = current;
    }
    if (c == null || !c.isDone() || c.isCompletedExceptionally()) return Optional.empty();
    AgentConnection conn = c.join();
    return conn.isUsable() ? Optional.of(conn) : Optional.empty();
  }

  private ClusterException unavailable(String message) {
    return new ClusterException(ClusterFailure.UNAVAILABLE, message);
  }

  private static String rootMessage(Throwable t) {
    while (t.getCause() != null && t.getCause() != t) t = t.getCause();
    return t.getMessage() == null ? t.getClass().getSimpleName() : t.getMessage();
  }

  @Override public void close() {
    CompletableFuture<AgentConnection> c;
    synchronized (this) {
      closed = true;
      c = current;
    }
    if (c != null) c.thenAccept(AgentConnection::close);
  }
}
