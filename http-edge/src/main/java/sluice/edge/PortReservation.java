package sluice.edge;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;

/**
 * Holds one of the gateway's listening ports from the beginning of its start until just before Pekko binds it. The
 * agent starts early and its services may start jobs before the HTTP server binds; a local job picks a free port of
 * this machine for its model server, and took the gateway's own port once (CrashRestartIT: the restarted gateway
 * failed with "address in use" and mock-llm answered on its port). A port already in use fails the start at once.
 */
final class PortReservation implements AutoCloseable {
  private final ServerSocket socket;      // null for port 0: the system picks one at bind time, nothing to hold

  private PortReservation(ServerSocket socket) {
    this.socket = socket;
  }

  static PortReservation hold(String host, int port) throws IOException {
    if (port == 0) return new PortReservation(null);
    ServerSocket s = new ServerSocket();
    s.setReuseAddress(true);                // so that Pekko can bind the port the moment this one lets it go
    try {
      s.bind(new InetSocketAddress(host, port), 1);
    } catch (IOException e) {
      s.close();
      BindException b = new BindException("[" + host + ":" + port + "] " + e.getMessage());
      b.initCause(e);
      throw b;
    }
    return new PortReservation(s);
  }

  /** Lets the port go; idempotent. */
  @Override public void close() {
    if (socket == null) return;
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing a listening socket that accepted nothing does not fail in practice; the bind that follows would say
    }
  }
}
