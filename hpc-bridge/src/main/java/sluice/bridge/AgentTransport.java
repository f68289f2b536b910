package sluice.bridge;

import java.io.IOException;
import java.util.List;
import sluice.core.tunnel.TunnelObserver;

/**
 * Opens a fresh connection to an agent. Blocking; the link calls it on a blocking executor. Implementations report
 * each node they try to {@code observer} (connecting, up, failed) and throw {@link ConnectFailure} when none worked.
 */
@FunctionalInterface
public interface AgentTransport {
  AgentConnection connect(TunnelObserver observer) throws IOException;

  /**
   * Starts what the first {@link #connect} will need, without waiting for it: the gateway calls this before its actor
   * system starts, so the two start side by side. Nothing by default.
   */
  default void prestart() {}

  /** Stops what {@link #prestart} started and no {@link #connect} has taken: the gateway failed to start. */
  default void discardPrestarted() {}

  /** Names the nodes this transport may connect to, in the order it tries them; used to set up tunnel status. */
  default List<String> nodes() { return List.of("local"); }

  /**
   * No node could be reached. {@code fatal} when every node refused for a reason retrying will not fix (the key was
   * not accepted, the host key did not match): the link then retries only at its slowest pace and alerts.
   */
  final class ConnectFailure extends IOException {
    private static final long serialVersionUID = 1L;
    private final boolean fatal;

    public ConnectFailure(String message, boolean fatal, Throwable cause) {
      super(message, cause);
      this.fatal = fatal;
    }

    public boolean fatal() { return fatal; }
  }
}
