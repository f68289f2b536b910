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
import java.util.Locale;
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
    Body body = new Body(sink);
    int status = 0;
    try {
      if (socket == null) connect();
      sent = System.nanoTime();
      out.write(request);
      out.flush();
      String statusLine = line();
      String[] parts = statusLine.split(" ", 3);
      if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException("not an HTTP answer: " + statusLine);
      status = Integer.parseInt(parts[1]);
      boolean chunked = false;
      long length = -1;
      boolean close = parts[0].equals("HTTP/1.0");
      for (String h; !(h = line()).isEmpty(); ) {
        String lower = h.toLowerCase(Locale.ROOT);
        if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) chunked = true;
        else if (lower.startsWith("content-length:")) length = Long.parseLong(lower.substring(15).trim());
        else if (lower.startsWith("connection:") && lower.contains("close")) close = true;
      }
      if (chunked) {
        for (long size; (size = Long.parseLong(line().split(";", 2)[0].trim(), 16)) > 0; ) {
          body.read(size, status);
          if (!line().isEmpty()) throw new IOException("bad chunk end");
        }
        while (!line().isEmpty()) { /* trailers */ }
      } else if (length >= 0) {
        body.read(length, status);
      } else {
        close = true;
        body.readToEnd(status);
      }
      if (close) close();
      return body.outcome(sent, status, null);
    } catch (IOException | RuntimeException e) {
      close();
      return body.outcome(sent, status, e.getClass().getSimpleName() + (e.getMessage() == null ? "" : ": " + e.getMessage()));
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

  /** A CRLF-ended ASCII line without its end. */
  private String line() throws IOException {
    StringBuilder b = new StringBuilder();
    while (true) {
      if (pos == lim && !fill()) throw new IOException("connection closed mid-answer");
      byte c = buf[pos++];
      if (c == '\n') {
        int n = b.length();
        return n > 0 && b.charAt(n - 1) == '\r' ? b.substring(0, n - 1) : b.toString();
      }
      b.append((char) c);
    }
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

  /** The body as it passes: events counted, the last bytes kept to see [DONE], the start of an error body. */
  private final class Body {
    final LongAdder sink;
    final byte[] tail = new byte[StreamLoad.TAIL];
    long seen;
    final StringBuilder error = new StringBuilder();
    long firstByte;
    long events;
    boolean newline;

    Body(LongAdder sink) {
      this.sink = sink;
    }

    void read(long n, int status) throws IOException {
      while (n > 0) {
        if (pos == lim && !fill()) throw new IOException("connection closed mid-body");
        int take = (int) Math.min(n, lim - pos);
        consume(take, status);
        n -= take;
      }
    }

    void readToEnd(int status) throws IOException {
      while (pos < lim || fill()) consume(lim - pos, status);
    }

    private void consume(int len, int status) {
      if (firstByte == 0) firstByte = System.nanoTime();
      if (status != 200 && error.length() < 200) error.append(new String(buf, pos, Math.min(len, 200), StandardCharsets.UTF_8));
      long found = 0;
      boolean nl = newline;
      for (int i = pos, end = pos + len; i < end; i++) {
        if (buf[i] == '\n') {
          if (nl) {
            found++;
            nl = false;
          } else {
            nl = true;
          }
        } else {
          nl = false;
        }
      }
      newline = nl;
      seen += len;
      int keep = Math.min(len, tail.length);
      System.arraycopy(tail, keep, tail, 0, tail.length - keep);
      System.arraycopy(buf, pos + len - keep, tail, tail.length - keep, keep);
      pos += len;
      events += found;
      if (found > 0) sink.add(found);
    }

    Outcome outcome(long sent, int status, String failure) {
      boolean done = StreamLoad.endsWithDone(tail);
      String e = failure != null ? failure
          : status != 200 ? "HTTP " + status + ": " + error.toString().replace('\n', ' ').trim()
          : !done ? "ended without [DONE] after " + events + " events" + StreamLoad.lastEvent(tail, seen) : null;
      return new Outcome(status, sent, firstByte, System.nanoTime(), events, done, e);
    }
  }
}
