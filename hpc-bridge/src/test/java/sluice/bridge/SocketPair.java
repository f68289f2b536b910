package sluice.bridge;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Collection;

/** Two connected loopback sockets: the gateway's side and a stand-in agent's, for tests that speak the mux protocol. */
record SocketPair(Socket client, Socket server) {
  /** Connects a pair and adds both sockets to {@code toClose}. */
  static SocketPair open(Collection<? super Socket> toClose) throws IOException {
    InetAddress lo = InetAddress.getLoopbackAddress();
    try (ServerSocket listener = new ServerSocket(0, 1, lo)) {
      Socket client = new Socket(lo, listener.getLocalPort());
      Socket server = listener.accept();
      toClose.add(client);
      toClose.add(server);
      return new SocketPair(client, server);
    }
  }
}
