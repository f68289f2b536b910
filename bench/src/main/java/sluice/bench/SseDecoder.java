package sluice.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.concurrent.atomic.LongAdder;
import sluice.bench.StreamLoad.Outcome;

/**
 * One HTTP/1.1 answer decoded as its bytes arrive, in whatever pieces they come: the status, a chunked,
 * Content-Length or read-to-close body, SSE events counted by their blank-line ends without parsing them, the last
 * bytes kept to see {@code [DONE]}, and the start of a refusal's body. The blocking {@link SseConnection} and the
 * non-blocking {@link SseCrowd} both feed it, so the two clients count and judge a stream the same way.
 */
final class SseDecoder {
  private enum State { STATUS, HEADERS, CHUNK_SIZE, CHUNK_DATA, CHUNK_END, TRAILERS, FIXED, TO_CLOSE, DONE }

  /** A longer status, header or chunk-size line is not an answer this bench talks to. */
  private static final int MAX_LINE = 8192;

  private final LongAdder sink;
  private final StringBuilder line = new StringBuilder();
  private final byte[] tail = new byte[StreamLoad.TAIL];
  private final StringBuilder errorBody = new StringBuilder();
  private State state = State.STATUS;
  private int status;
  private boolean chunked;
  private long length = -1;
  private boolean close;
  private long remaining;
  private long seen;
  private long firstByte;
  private long events;
  private boolean newline;

  /** {@code sink} is added to as events arrive, for windows that count events rather than streams. */
  SseDecoder(LongAdder sink) {
    this.sink = sink;
  }

  /**
   * Takes the bytes {@code b[off, off + len)}; returns how many belonged to this answer (fewer than {@code len} only
   * when it ended before them).
   *
   * @throws IOException when the bytes are not an HTTP/1.x answer
   */
  int feed(byte[] b, int off, int len) throws IOException {
    int i = off;
    int end = off + len;
    while (i < end && state != State.DONE) {
      switch (state) {
        case CHUNK_DATA, FIXED -> {
          int take = (int) Math.min(remaining, end - i);
          body(b, i, take);
          i += take;
          remaining -= take;
          if (remaining == 0) state = state == State.CHUNK_DATA ? State.CHUNK_END : State.DONE;
        }
        case TO_CLOSE -> {
          body(b, i, end - i);
          i = end;
        }
        default -> {
          byte c = b[i++];
          if (c != '\n') {
            if (line.length() >= MAX_LINE) throw new IOException("a line of the answer's head is over " + MAX_LINE + " bytes");
            line.append((char) (c & 0xff));
            continue;
          }
          int n = line.length();
          String l = n > 0 && line.charAt(n - 1) == '\r' ? line.substring(0, n - 1) : line.toString();
          line.setLength(0);
          onLine(l);
        }
      }
    }
    return i - off;
  }

  /** The connection closed: that ends a read-to-close body; anywhere else the answer was cut short. */
  void closed() throws IOException {
    if (state == State.TO_CLOSE) state = State.DONE;
    else if (state != State.DONE) throw new IOException("connection closed mid-answer");
  }

  boolean complete() {
    return state == State.DONE;
  }

  /** Whether the connection may carry the next request. */
  boolean keepAlive() {
    return !close;
  }

  /** How the answer went, ending now; {@code failure} (the transport's) wins over what the bytes say. */
  Outcome outcome(long sent, String failure) {
    boolean done = StreamLoad.endsWithDone(tail);
    String error = failure != null ? failure
        : status != 200 ? "HTTP " + status + ": " + errorBody.toString().replace('\n', ' ').trim()
        : !done ? "ended without [DONE] after " + events + " events" + StreamLoad.lastEvent(tail, seen) : null;
    return new Outcome(status, sent, firstByte, System.nanoTime(), events, done, error);
  }

  private void onLine(String l) throws IOException {
    switch (state) {
      case STATUS -> {
        String[] parts = l.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) throw new IOException("not an HTTP answer: " + l);
        try {
          status = Integer.parseInt(parts[1]);
        } catch (NumberFormatException e) {
          throw new IOException("not an HTTP status: " + l);
        }
        close = parts[0].equals("HTTP/1.0");
        state = State.HEADERS;
      }
      case HEADERS -> {
        if (!l.isEmpty()) {
          header(l.toLowerCase(Locale.ROOT));
        } else if (status == 204 || status == 304) {
          state = State.DONE;
        } else if (chunked) {
          state = State.CHUNK_SIZE;
        } else if (length >= 0) {
          remaining = length;
          state = length == 0 ? State.DONE : State.FIXED;
        } else {
          close = true;
          state = State.TO_CLOSE;
        }
      }
      case CHUNK_SIZE -> {
        long size;
        try {
          size = Long.parseLong(l.split(";", 2)[0].trim(), 16);
        } catch (NumberFormatException e) {
          throw new IOException("bad chunk size: " + l);
        }
        if (size < 0) throw new IOException("bad chunk size: " + l);
        remaining = size;
        state = size == 0 ? State.TRAILERS : State.CHUNK_DATA;
      }
      case CHUNK_END -> {
        if (!l.isEmpty()) throw new IOException("bad chunk end");
        state = State.CHUNK_SIZE;
      }
      case TRAILERS -> {
        if (l.isEmpty()) state = State.DONE;
      }
      default -> throw new IllegalStateException(state.name());
    }
  }

  private void header(String lower) throws IOException {
    if (lower.startsWith("transfer-encoding:") && lower.contains("chunked")) {
      chunked = true;
    } else if (lower.startsWith("content-length:")) {
      try {
        length = Long.parseLong(lower.substring(15).trim());
      } catch (NumberFormatException e) {
        throw new IOException("bad Content-Length: " + lower);
      }
    } else if (lower.startsWith("connection:") && lower.contains("close")) {
      close = true;
    }
  }

  private void body(byte[] b, int off, int len) {
    if (len == 0) return;
    if (firstByte == 0) firstByte = System.nanoTime();
    if (status != 200 && errorBody.length() < 200) errorBody.append(new String(b, off, Math.min(len, 200), StandardCharsets.UTF_8));
    long found = 0;
    boolean nl = newline;
    for (int i = off, end = off + len; i < end; i++) {
      if (b[i] == '\n') {
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
    System.arraycopy(b, off + len - keep, tail, tail.length - keep, keep);
    events += found;
    if (found > 0) sink.add(found);
  }
}
