package sluice.edge;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * HTTP as a hostile client writes it: the request's bytes exactly as given (no client library to fix them), one
 * request per connection (or a conversation of several), the answer read until the server closes or its Content-Length is in.
 */
final class RawHttp {
  private RawHttp() {}

  /** Status, headers (lower-case names, the last of a name) and body of one response. */
  record Response(int status, Map<String, String> headers, String body) {
    String header(String name) { return headers.get(name.toLowerCase(Locale.ROOT)); }
  }

  static Response exchange(int port, String request) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      s.setSoTimeout(15_000);
      try {
        s.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
      } catch (IOException closedEarly) {
        // The server may answer and close before it has read everything (an over-long header): read its answer.
      }
      return read(s.getInputStream());
    }
  }

  /**
   * Bytes sent in pieces on one kept-alive connection, as a client on a slow link sends them. After each piece but the
   * last, an answer the server sends within {@code early} is collected; after the last, {@code answers} answers in all
   * are awaited. Fails when the server closes the connection before giving them.
   */
  static List<Response> conversation(int port, List<String> pieces, Duration early, int answers) throws IOException {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
      BufferedInputStream in = new BufferedInputStream(s.getInputStream());
      List<Response> got = new ArrayList<>();
      for (int i = 0; i < pieces.size(); i++) {
        s.getOutputStream().write(pieces.get(i).getBytes(StandardCharsets.ISO_8859_1));
        s.getOutputStream().flush();
        if (i < pieces.size() - 1) {
          s.setSoTimeout((int) early.toMillis());
          in.mark(1);
          try {
            if (in.read() < 0) throw new IOException("closed after " + got.size() + " answers, before piece " + (i + 2));
            in.reset();
            got.add(read(in));
          } catch (SocketTimeoutException quiet) {
            // No answer yet: the server waits for more.
          }
        }
      }
      s.setSoTimeout(15_000);
      while (got.size() < answers) got.add(read(in));
      return got;
    }
  }

  private static Response read(InputStream in) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    byte[] buf = new byte[8192];
    int headEnd = -1;
    int contentLength = -1;
    try {
      for (int n; (n = in.read(buf)) != -1; ) {
        all.write(buf, 0, n);
        String sofar = all.toString(StandardCharsets.ISO_8859_1);
        if (headEnd < 0 && (headEnd = sofar.indexOf("\r\n\r\n")) >= 0) {
          contentLength = parseHead(sofar.substring(0, headEnd)).headers().containsKey("content-length")
              ? Integer.parseInt(parseHead(sofar.substring(0, headEnd)).header("content-length").trim()) : -1;
        }
        if (headEnd >= 0 && contentLength >= 0 && all.size() >= headEnd + 4 + contentLength) break;
      }
    } catch (SocketTimeoutException e) {
      throw new IOException("no complete answer within 15 s; got: " + all.toString(StandardCharsets.ISO_8859_1), e);
    }
    String text = all.toString(StandardCharsets.UTF_8);
    int end = text.indexOf("\r\n\r\n");
    if (end < 0) throw new IOException("no response head: '" + text + "'");
    Response head = parseHead(text.substring(0, end));
    return new Response(head.status(), head.headers(), text.substring(end + 4));
  }

  private static Response parseHead(String head) {
    String[] lines = head.split("\r\n");
    int status = Integer.parseInt(lines[0].split(" ")[1]);
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
    }
    return new Response(status, headers, "");
  }
}
