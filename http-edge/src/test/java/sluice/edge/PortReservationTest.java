package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.BindException;
import java.net.ConnectException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import org.junit.jupiter.api.Test;

class PortReservationTest {
  private static final String HOST = "127.0.0.1";

  /** What a local job does when it looks for a free port: it must not get the gateway's while the gateway starts. */
  @Test void aHeldPortCannotBeTakenAndIsFreeTheMomentItIsLetGo() throws Exception {
    int port = freePort();
    PortReservation held = PortReservation.hold(HOST, port);
    assertTrue(held.held());
    try (ServerSocket job = new ServerSocket()) {                // Java's server sockets ask for SO_REUSEADDR
      assertThrows(BindException.class, () -> job.bind(new InetSocketAddress(HOST, port)));
    }
    try (ServerSocket job = new ServerSocket(0, 50, InetAddress.getByName(HOST))) {
      assertNotEquals(port, job.getLocalPort(), "a free port for a job is never the held one");
    }
    // A client that comes early is refused, as when nothing is bound, not accepted and then dropped.
    assertThrows(ConnectException.class, () -> new Socket(HOST, port).close());
    held.close();
    try (ServerSocket gateway = new ServerSocket()) {
      gateway.bind(new InetSocketAddress(HOST, port));
      assertTrue(gateway.isBound());
    }
    held.close();                                            // idempotent
  }

  /** Best effort: a port it cannot hold now is left to the server's own bind, as before (no exception, nothing held). */
  @Test void aPortInUseIsNotHeldAndDoesNotFailTheStart() throws Exception {
    try (ServerSocket other = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
      PortReservation r = PortReservation.hold(HOST, other.getLocalPort());
      assertFalse(r.held());
      r.close();
    }
  }

  @Test void portZeroHoldsNothing() throws Exception {
    PortReservation.hold(HOST, 0).close();
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0)) {
      return s.getLocalPort();
    }
  }
}
