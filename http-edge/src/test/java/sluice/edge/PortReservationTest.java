package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import org.junit.jupiter.api.Test;

class PortReservationTest {
  private static final String HOST = "127.0.0.1";

  /** What a local job does when it looks for a free port: it must not get the gateway's while the gateway starts. */
  @Test void aHeldPortCannotBeTakenAndIsFreeTheMomentItIsLetGo() throws Exception {
    int port = freePort();
    PortReservation held = PortReservation.hold(HOST, port);
    try (ServerSocket job = new ServerSocket()) {
      assertThrows(BindException.class, () -> job.bind(new InetSocketAddress(HOST, port)));
    }
    held.close();
    try (ServerSocket gateway = new ServerSocket()) {
      gateway.bind(new InetSocketAddress(HOST, port));
      assertTrue(gateway.isBound());
    }
    held.close();                                            // idempotent
  }

  @Test void aPortInUseFailsTheStartAtOnceNamingIt() throws Exception {
    try (ServerSocket other = new ServerSocket(0, 1, java.net.InetAddress.getByName(HOST))) {
      BindException e = assertThrows(BindException.class, () -> PortReservation.hold(HOST, other.getLocalPort()));
      assertTrue(e.getMessage().contains(HOST + ":" + other.getLocalPort()), e.getMessage());
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
