package sluice.bridge;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;

/**
 * One live mux session with an agent, over whatever byte pipe a transport provides (a child process's stdin/stdout
 * here, an SSH channel later). Knows nothing of the transport beyond the two streams and a way to close it.
 */
public final class AgentConnection implements AutoCloseable {
  private final MuxSession session;

  private AgentConnection(MuxSession session, Runnable closeTransport) {
    this.session = session;
    session.closed().whenComplete((reason, err) -> closeTransport.run());
  }

  /**
   * Skips login-shell noise up to the agent's banner, then completes the handshake. Blocking: call it on a
   * blocking executor. On failure the transport is closed and the noise is part of the message.
   */
  public static AgentConnection handshake(String name, InputStream in, OutputStream out, Limits limits,
                                          Duration timeout, Runnable closeTransport) throws IOException {
    InputStream buffered = new BufferedInputStream(in, 64 * 1024);
    MuxSession session = null;
    try {
      Banner.skipTo(buffered, limits.maxNoiseBytes());
      session = MuxSession.client(buffered, out, limits, "sluice-gateway").start(name);
      session.peerHello().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      return new AgentConnection(session, closeTransport);
    } catch (TimeoutException e) {
      if (session != null) session.close();
      closeTransport.run();
      throw new IOException("agent " + name + " sent no HELLO within " + timeout.toSeconds() + " s");
    } catch (java.util.concurrent.ExecutionException e) {
      closeTransport.run();
      throw new IOException("handshake with agent " + name + " failed: " + e.getCause().getMessage(), e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closeTransport.run();
      throw new IOException("interrupted during handshake", e);
    } catch (IOException | RuntimeException e) {
      if (session != null) session.close();
      closeTransport.run();
      throw e;
    }
  }

  public boolean isUsable() { return !session.isGoingAway(); }

  public CompletableFuture<Messages.Problem> closed() { return session.closed(); }

  public MuxStream open(Messages.Call call, boolean endOfRequest) throws IOException {
    return session.open(call, endOfRequest);
  }

  @Override public void close() {
    session.close();
  }
}
