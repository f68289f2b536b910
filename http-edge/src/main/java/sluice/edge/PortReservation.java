package sluice.edge;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Holds one of the gateway's listening ports from the beginning of its start until just before Pekko binds it. The
 * agent starts early and its services may start jobs before the HTTP server binds; a local job picks a free port of
 * this machine for its model server, and took the gateway's own port once (CrashRestartIT: the restarted gateway
 * failed with "address in use" and mock-llm answered on its port).
 *
 * <p>The port is bound, not listened on: a client that connects meanwhile is refused, as before, rather than accepted
 * and then dropped. Without SO_REUSEADDR no other socket can bind it, and it never enters TIME_WAIT, so Pekko binds it
 * the moment it is let go. Best effort: a port that cannot be held now (in use, or with connections of a killed
 * predecessor still in TIME_WAIT, which Pekko's own bind tolerates) is left to Pekko's bind to judge, as before.
 */
final class PortReservation implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PortReservation.class);
  private final Socket socket;      // null when nothing is held (port 0: the system picks one at bind time)

  private PortReservation(Socket socket) {
    this.socket = socket;
  }

  static PortReservation hold(String host, int port) {
    if (port == 0) return new PortReservation(null);
    Socket s = new Socket();
    try {
      s.setReuseAddress(false);
      s.bind(new InetSocketAddress(host, port));
      return new PortReservation(s);
    } catch (IOException e) {
      LOG.debug("port {}:{} not held while starting: {}", host, port, e.toString());
      try {
        s.close();
      } catch (IOException ignored) {
        // nothing was bound
      }
      return new PortReservation(null);
    }
  }

  /** Whether the port is held now. */
  boolean held() {
    return socket != null && !socket.isClosed();
  }

  /** Lets the port go; idempotent. */
  @Override public void close() {
    if (socket == null) return;
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing a socket that never connected does not fail in practice; the bind that follows would say
    }
  }
}
