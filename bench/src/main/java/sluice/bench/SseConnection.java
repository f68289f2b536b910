package sluice.bench;

import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.atomic.LongAdder;
import sluice.bench.StreamLoad.Outcome;

/**
 * One kept-alive HTTP/1.1 connection that sends streaming requests one after the other on a blocking socket, decodes
 * the chunked body and counts SSE events (a blank line ends one) without parsing them: the cheapest client the JDK
 * allows, for the scenarios where the load generator's CPU per event competes with the path's (one long stream, streams
 * back to back). The JDK HttpClient cost about as much CPU per event as mock-llm itself.
 */
final class SseConnection implements Closeable {
  private final InetSocketAddress address;
  private final byte[] buf = new byte[64 * 1024];
  private Socket socket;
  private InputStream in;
  private OutputStream out;
  private int pos;
  private int lim;

  SseConnection(URI base) {
    this.address = new InetSocketAddress(base.getHost(), base.getPort());
  }

  /** The bytes of one POST of {@code body} to /v1/chat/completions. */
  static byte[] request(URI base, String key, String body) {
    byte[] json = body.getBytes(StandardCharsets.UTF_8);
    String head = "POST /v1/chat/completions HTTP/1.1\r\nHost: " + base.getHost() + ":" + base.getPort()
        + "\r\nContent-Type: application/json\r\nAccept: text/event-stream\r\nAuthorization: Bearer " + key
        + "\r\nContent-Length: " + json.length + "\r\n\r\n";
    byte[] h = head.getBytes(StandardCharsets.US_ASCII);
    byte[] all = Arrays.copyOf(h, h.length + json.length);
    System.arraycopy(json, 0, all, h.length, json.length);
    return all;
  }

  /** Sends {@code request} and reads the whole answer; never throws: a failure is the outcome's error. */
  Outcome stream(byte[] request, LongAdder sink) {
    long sent = System.nanoTime();
    SseDecoder answer = new SseDecoder(sink);
    try {
      if (socket == null) connect();
      sent = System.nanoTime();
      out.write(request);
      out.flush();
      while (!answer.complete()) {
        if (pos == lim && !fill()) {
          answer.closed();
          break;
        }
        pos += answer.feed(buf, pos, lim - pos);
      }
      if (!answer.keepAlive()) close();
      return answer.outcome(sent, null);
    } catch (IOException | RuntimeException e) {
      close();
      return answer.outcome(sent, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
    }
  }

  private void connect() throws IOException {
    Socket s = new Socket();
    s.setTcpNoDelay(true);
    s.connect(address, 5000);
    s.setSoTimeout(120_000);
    socket = s;
    in = s.getInputStream();
    out = s.getOutputStream();
    pos = 0;
    lim = 0;
  }

  private boolean fill() throws IOException {
    pos = 0;
    lim = Math.max(0, in.read(buf));
    return lim > 0;
  }

  @Override public void close() {
    if (socket == null) return;
    try {
      socket.close();
    } catch (IOException ignored) {
      // closing anyway
    }
    socket = null;
  }
}
