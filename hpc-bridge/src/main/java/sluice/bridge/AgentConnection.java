package sluice.bridge;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import sluice.agent.wire.Banner;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;

/**
 * One live connection to an agent host: one or more mux channels (each an agent process serving the protocol) over
 * one transport (a child process's pipes, or one SSH connection). New streams go to the channel with the fewest open
 * streams. The connection is all or nothing: when any channel ends, the others and the transport are closed too, and
 * the link builds a fresh connection, so a half-broken SSH connection is never kept around.
 *
 * <p>It also keeps the agent's {@link Liveness}: a ping unanswered for the ping timeout marks the connection
 * unresponsive, which fails what {@link #watch watches} it and makes callers refuse new calls, until an answer comes.
 * An unresponsive connection is not closed: the transport is alive (the pipe is open, sshd answers its keep-alives),
 * so the agent may resume with its work intact, and a new agent would most likely meet what stalled this one.
 */
public final class AgentConnection implements AutoCloseable {
  private final String node;
  private final List<MuxSession> channels;
  private final Runnable closeTransport;
  private final CompletableFuture<Messages.Problem> closed = new CompletableFuture<>();
  private final Liveness liveness = new Liveness(Ticker.SYSTEM);
  private final Set<Consumer<ClusterException>> watchers = ConcurrentHashMap.newKeySet();

  private AgentConnection(String node, List<MuxSession> channels, Runnable closeTransport) {
    if (channels.isEmpty()) throw new IllegalArgumentException("a connection needs at least one channel");
    this.node = node;
    this.channels = List.copyOf(channels);
    this.closeTransport = closeTransport;
    for (MuxSession s : this.channels) s.closed().whenComplete((reason, err) -> end(reason));
  }

  /** A connection over channels that have completed their handshake (see {@link #handshakeChannel}). */
  public static AgentConnection of(String node, List<MuxSession> channels, Runnable closeTransport) {
    return new AgentConnection(node, channels, closeTransport);
  }

  /** A single-channel connection: handshake on the pipe, then wrap it. */
  public static AgentConnection handshake(String node, InputStream in, OutputStream out, Limits limits, Duration timeout,
                                          Runnable closeTransport) throws IOException {
    MuxSession session;
    try {
      session = handshakeChannel(node, in, out, limits, timeout);
    } catch (IOException | RuntimeException e) {
      closeTransport.run();
      throw e;
    }
    return new AgentConnection(node, List.of(session), closeTransport);
  }

  /**
   * Skips login-shell noise up to the agent's banner, then completes the HELLO exchange on one channel. Blocking:
   * call it on a blocking executor. On failure the session is closed (the caller closes its transport) and any noise
   * seen is part of the message.
   */
  public static MuxSession handshakeChannel(String name, InputStream in, OutputStream out, Limits limits, Duration timeout)
      throws IOException {
    InputStream buffered = new BufferedInputStream(in, 64 * 1024);
    MuxSession session = null;
    try {
      Banner.skipTo(buffered, limits.maxNoiseBytes());
      session = MuxSession.client(buffered, out, limits, "sluice-gateway").start(name);
      session.peerHello().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return session;
    } catch (TimeoutException e) {
      if (session != null) session.close();
      throw new IOException("agent " + name + " sent no HELLO within " + timeout.toSeconds() + " s");
    } catch (ExecutionException e) {
      throw new IOException("handshake with agent " + name + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      if (session != null) session.close();
      throw new IOException("interrupted during handshake", e);
    } catch (IOException | RuntimeException e) {
      if (session != null) session.close();
      throw e;
    }
  }

  private void end(Messages.Problem reason) {
    if (!closed.complete(reason == null ? new Messages.Problem(ProblemCode.SESSION_CLOSED, "channel ended") : reason)) return;
    for (MuxSession s : channels) s.close();
    closeTransport.run();
  }

  /** The login node (or local agent) this connection reaches. */
  public String node() { return node; }

  public boolean isUsable() {
    if (closed.isDone()) return false;
    for (MuxSession s : channels) if (s.isGoingAway()) return false;
    return true;
  }

  /** Completes with the reason when the first channel ends, after which the whole connection is closed. */
  public CompletableFuture<Messages.Problem> closed() { return closed; }

  public int channelCount() { return channels.size(); }

  public int openStreams() {
    int n = 0;
    for (MuxSession s : channels) n += s.openStreams();
    return n;
  }

  /** The slowest channel's round trip, so a stalled agent process shows even when the others answer. */
  public CompletableFuture<Duration> ping() {
    List<CompletableFuture<Duration>> pings = channels.stream().map(MuxSession::ping).toList();
    return CompletableFuture.allOf(pings.toArray(CompletableFuture[]::new)).thenApply(v ->
        pings.stream().map(CompletableFuture::join).max(Comparator.naturalOrder()).orElse(Duration.ZERO));
  }

  /**
   * Pings every channel as {@link #ping()} does, and keeps the connection's liveness: if no answer came within
   * {@code timeout}, the connection is marked unresponsive (its watchers are told) and the stage fails with
   * {@link ClusterFailure#TUNNEL_UNRESPONSIVE}; the next answer marks it responsive again.
   */
  public CompletableFuture<Duration> ping(Duration timeout) {
    long sent = liveness.pingSent();
    CompletableFuture<Duration> roundTrip = ping();
    roundTrip.thenRun(() -> liveness.answered(sent));
    return roundTrip.copy().orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS).exceptionallyCompose(err -> {
      Throwable cause = err instanceof CompletionException && err.getCause() != null ? err.getCause() : err;
      if (!(cause instanceof TimeoutException)) return CompletableFuture.failedFuture(err);
      if (liveness.overdue(timeout)) {
        ClusterException e = unresponsiveFailure();
        for (Consumer<ClusterException> w : List.copyOf(watchers)) w.accept(e);
      }
      if (liveness.unresponsive()) return CompletableFuture.failedFuture(unresponsiveFailure());
      return roundTrip.isDone() ? roundTrip : CompletableFuture.failedFuture(err);    // answered just now, or dropped
    });
  }

  /** Why calls are refused now, while the agent does not answer; empty while it does. */
  public Optional<ClusterException> unresponsive() {
    return liveness.unresponsive() ? Optional.of(unresponsiveFailure()) : Optional.empty();
  }

  /**
   * Tells {@code onUnresponsive} (once, on a timer thread: it must not block) when the connection is marked
   * unresponsive, at once if it is already. Run the returned action to stop watching.
   */
  public Runnable watch(Consumer<ClusterException> onUnresponsive) {
    AtomicBoolean told = new AtomicBoolean();
    Consumer<ClusterException> once = e -> {
      if (told.compareAndSet(false, true)) onUnresponsive.accept(e);
    };
    watchers.add(once);
    unresponsive().ifPresent(once);                 // marked before we were added
    return () -> watchers.remove(once);
  }

  private ClusterException unresponsiveFailure() {
    return new ClusterException(ClusterFailure.TUNNEL_UNRESPONSIVE,
        "the agent on " + node + " has not answered a ping for " + liveness.silence().toSeconds() + " s");
  }

  public MuxStream open(Messages.Call call, boolean endOfRequest) throws IOException {
    MuxSession least = null;
    for (MuxSession s : channels) {
      if (!s.isGoingAway() && (least == null || s.openStreams() < least.openStreams())) least = s;
    }
    if (least == null) throw new StreamResetException(new Messages.Problem(ProblemCode.REFUSED, "connection is closing"));
    return least.open(call, endOfRequest);
  }

  @Override public void close() {
    end(new Messages.Problem(ProblemCode.NORMAL, "closed locally"));
  }
}
