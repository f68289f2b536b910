package sluice.agent.wire;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;

/** Two connected loopback sockets: a real byte pipe with real buffering for session tests. */
record SocketPair(Socket a, Socket b) implements AutoCloseable {
  static SocketPair open() throws IOException {
    try (ServerSocket server = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      Socket a = new Socket(InetAddress.getLoopbackAddress(), server.getLocalPort());
      Socket b = server.accept();
      a.setTcpNoDelay(true);
      b.setTcpNoDelay(true);
      return new SocketPair(a, b);
    }
  }

  @Override public void close() throws IOException {
    a.close();
    b.close();
  }
}
