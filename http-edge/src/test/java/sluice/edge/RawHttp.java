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
      return read(new BufferedInputStream(s.getInputStream()));
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

  /**
   * One answer and not a byte more: the head up to its blank line, then Content-Length bytes (or everything up to the
   * close when there is none). Answers to pipelined requests may share a TCP segment; the next one stays in {@code in}.
   */
  private static Response read(InputStream in) throws IOException {
    ByteArrayOutputStream all = new ByteArrayOutputStream();
    try {
      int lastFour = 0;
      for (int b; lastFour != BLANK_LINE && (b = in.read()) != -1; lastFour = lastFour << 8 | b) all.write(b);
      if (lastFour != BLANK_LINE) throw new IOException("no response head: '" + all.toString(StandardCharsets.UTF_8) + "'");
      int headEnd = all.size();
      Response head = parseHead(all.toString(StandardCharsets.ISO_8859_1).substring(0, headEnd - 4));
      String length = head.header("content-length");
      if (length == null) {
        in.transferTo(all);
      } else {
        int expected = Integer.parseInt(length.trim());
        for (int b; all.size() - headEnd < expected && (b = in.read()) != -1; ) all.write(b);
        if (all.size() - headEnd < expected) throw new IOException("closed inside the body: " + all);
      }
      return new Response(head.status(), head.headers(), new String(all.toByteArray(), headEnd, all.size() - headEnd,
          StandardCharsets.UTF_8));
    } catch (SocketTimeoutException e) {
      throw new IOException("no complete answer within 15 s; got: " + all.toString(StandardCharsets.ISO_8859_1), e);
    }
  }

  private static final int BLANK_LINE = '\r' << 24 | '\n' << 16 | '\r' << 8 | '\n';

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
