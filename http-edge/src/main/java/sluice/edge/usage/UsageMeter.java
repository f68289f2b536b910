package sluice.edge.usage;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Arrays;
import java.util.Optional;
import java.util.function.DoubleConsumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;

/**
 * Measures one request's response on its way to the client: the token usage the model server reported, whether the
 * response ended normally, and when its first output arrived. One instance per request, and each of its flows is
 * materialized at most once; the stream writes the fields from its own thread and the request's end reads them from
 * another, hence {@code volatile}. Metering never fails or changes a response beyond what {@link #sse} documents.
 *
 * <p>"Content" is generated output: a choice whose {@code delta} has a non-empty {@code content},
 * {@code reasoning_content} or {@code reasoning} string or a non-empty {@code tool_calls} array, or (text completions)
 * a non-empty {@code text}. Role-only chunks, finish chunks and usage chunks carry none.
 *
 * <p><b>Fallback.</b> When a stream carried no usage at all (a server that ignores {@code stream_options}, or a
 * stream cut before any usage without {@code continuous_usage_stats}), {@link #usage()} counts each forwarded event
 * carrying content as one completion token, with 0 prompt tokens: servers send one token per chunk unless they batch
 * (speculative decoding), so this is a lower bound, not an exact count.
 */
public final class UsageMeter {
  private static final byte[] DATA = {'d', 'a', 't', 'a', ':'};
  private static final byte[] DONE = {'[', 'D', 'O', 'N', 'E', ']'};
  private static final byte[] NULL = {'n', 'u', 'l', 'l'};
  private static final byte[] NO_BYTES = {};

  private final Clock clock;
  private volatile boolean streamed;
  private volatile TokenUsage lastUsage;
  private volatile long contentEvents;                    // one writer, the stream
  private volatile boolean reachedEnd;
  private volatile Instant firstTokenAt;
  private final DoubleConsumer interToken;
  private long lastContentNanos;                          // the stream's own, like contentEvents

  public UsageMeter(Clock clock) {
    this(clock, s -> {});
  }

  /** @param interToken gets the seconds between two consecutive events with content of a stream (a histogram) */
  public UsageMeter(Clock clock, DoubleConsumer interToken) {
    this.clock = clock;
    this.interToken = interToken;
  }

  /**
   * Meters a model server's SSE response to a request prepared by {@link StreamOptions#prepare} and gives the client
   * exactly what it asked for. The input must be cut at event boundaries ({@code SseEvents.wholeEvents}); a piece may
   * hold several events. Events that are not a single {@code data:} line with a JSON object pass unchanged. Of a JSON
   * event only the top-level {@code "usage"} member may change; every other byte stays as the server wrote it:
   * <ul>
   *   <li>the client asked nothing: the member is removed, and an event with {@code "choices": []} and a usage object
   *       (the usage-only chunk) is dropped;
   *   <li>the client asked {@code include_usage}: on events with choices its value becomes {@code null}, OpenAI's
   *       shape; the usage-only chunk stays;
   *   <li>the client asked {@code include_usage} and {@code continuous_usage_stats}: nothing changes.
   * </ul>
   */
  public Flow<ByteString, ByteString, NotUsed> sse(boolean clientIncludeUsage, boolean clientContinuousUsage) {
    streamed = true;
    Policy policy = !clientIncludeUsage ? Policy.STRIP : clientContinuousUsage ? Policy.KEEP : Policy.NULL_ON_CHOICES;
    return Flow.<ByteString>create().map(piece -> events(piece, policy)).filter(piece -> !piece.isEmpty());
  }

  /**
   * Passes a JSON response body unchanged while capturing its top-level {@code usage} (prompt_tokens, and
   * completion_tokens or 0 for embeddings) with Jackson's non-blocking parser, in bounded memory whatever the body's
   * size (no more than its longest single token). A body that is not JSON yields no usage.
   */
  public Flow<ByteString, ByteString, NotUsed> json() {
    return Flow.<ByteString>create().statefulMap(JsonBodyScanner::new, (scanner, bytes) -> {
      if (firstTokenAt == null && !bytes.isEmpty()) firstTokenAt = clock.instant();
      byte[] array = bytes.toArrayUnsafe();
      scanner.feed(array, 0, array.length);
      if (scanner.usage() != null) lastUsage = scanner.usage();
      if (scanner.rootClosed()) reachedEnd = true;
      return Pair.create(scanner, bytes);
    }, scanner -> {
      scanner.end();
      return Optional.empty();
    });
  }

  /**
   * The usage to bill: the last usage the server reported (for a cut stream with continuous usage, that of the last
   * chunk forwarded), else for a stream the fallback count described on this class. Empty for a JSON body without a
   * usage, or when no {@link #sse} flow was created.
   */
  public Optional<TokenUsage> usage() {
    TokenUsage reported = lastUsage;
    if (reported != null) return Optional.of(reported);
    return streamed ? Optional.of(new TokenUsage(0, contentEvents)) : Optional.empty();
  }

  /** The stream's {@code data: [DONE]} went by, or the JSON body's root value closed. */
  public boolean reachedEnd() {
    return reachedEnd;
  }

  /** A stream's first event carrying content; a JSON body's first byte. */
  public Optional<Instant> firstTokenAt() {
    return Optional.ofNullable(firstTokenAt);
  }

  // ---------------------------------------------------------------- SSE

  private enum Policy { STRIP, NULL_ON_CHOICES, KEEP }

  /**
   * Meters every whole event of a piece and rebuilds the piece only if an event changes, in one output array: with
   * vLLM's per-chunk usage every event of a stream changes, and a builder plus an array per event cost as much as the
   * metering itself (async-profiler, one 2,000-token stream after another).
   */
  private ByteString events(ByteString piece, Policy policy) {
    byte[] b = piece.toArrayUnsafe();
    byte[] out = null;
    int outLength = 0;
    int copied = 0;                                        // b[copied, pos) is unchanged and not yet in out
    int pos = 0;
    while (pos < b.length) {
      int end = eventEnd(b, pos);
      if (end < 0) break;                                  // an unterminated tail (a stream that broke off): as is
      if (edit(b, pos, end, policy)) {
        byte[] with = editWithNull ? NULL : NO_BYTES;
        int needed = outLength + (editFrom - copied) + with.length + (b.length - editTo);
        if (out == null) out = new byte[needed];
        else if (out.length < needed) out = Arrays.copyOf(out, Math.max(needed, out.length + out.length / 2));
        System.arraycopy(b, copied, out, outLength, editFrom - copied);
        outLength += editFrom - copied;
        System.arraycopy(with, 0, out, outLength, with.length);
        outLength += with.length;
        copied = editTo;
      }
      pos = end;
    }
    if (out == null) return piece;
    System.arraycopy(b, copied, out, outLength, b.length - copied);   // room was made for it with the first edit
    outLength += b.length - copied;
    return ByteString.fromArrayUnsafe(out, 0, outLength);
  }

  // The last edit found by edit(): b[editFrom, editTo) becomes "null" or nothing. Fields, not a record per event: the
  // stream's one thread calls edit() and reads them right after; likewise firstLineEnd, from eventEnd() to edit().
  private int firstLineEnd;
  private int editFrom;
  private int editTo;
  private boolean editWithNull;

  /** Meters the event b[from, to); true when it must change, as the edit fields say (a dropped event: all of it). */
  private boolean edit(byte[] b, int from, int to, Policy policy) {
    try {
      int payloadStart = -1;
      int payloadEnd = -1;
      int firstEol = firstLineEnd;
      if (firstEol > from && (to == firstEol + 2 || to == firstEol + 3 && b[firstEol - 1] == '\r')) {
        // One line and the blank line after it, the shape of every completion chunk: no second pass over its lines.
        int contentEnd = b[firstEol - 1] == '\r' ? firstEol - 1 : firstEol;
        if (!startsWith(b, from, contentEnd, DATA)) return false;
        payloadStart = from + DATA.length;
        if (payloadStart < contentEnd && b[payloadStart] == ' ') payloadStart++;
        payloadEnd = contentEnd;
      } else {
        for (int line = from; line < to; ) {
          int eol = indexOf(b, (byte) '\n', line, to);
          int lineEnd = eol < 0 ? to : eol;
          int contentEnd = lineEnd > line && b[lineEnd - 1] == '\r' ? lineEnd - 1 : lineEnd;
          if (startsWith(b, line, contentEnd, DATA)) {
            if (payloadStart >= 0) return false;           // several data lines: not a completion chunk
            payloadStart = line + DATA.length;
            if (payloadStart < contentEnd && b[payloadStart] == ' ') payloadStart++;
            payloadEnd = contentEnd;
          }
          line = lineEnd + 1;
        }
      }
      if (payloadStart < 0) return false;
      if (payloadEnd - payloadStart == DONE.length && startsWith(b, payloadStart, payloadEnd, DONE)) {
        reachedEnd = true;
        return false;
      }
      EventJson e = EventJson.scan(b, payloadStart, payloadEnd);
      if (e == null) return false;
      meter(e);
      if (e.usageMembers() != 1 || policy == Policy.KEEP) return false;
      if (policy == Policy.NULL_ON_CHOICES) {
        if (e.choices() <= 0 || e.usageIsNull()) return false;
        return cut(payloadStart + e.valueStart(), payloadStart + e.valueEnd(), true);
      }
      if (e.choices() == 0 && !e.usageIsNull()) return cut(from, to, false);   // the usage-only chunk
      if (e.prevValueEnd() >= 0) {                         // `, "usage": …` after the previous member
        return cut(payloadStart + e.prevValueEnd(), payloadStart + e.valueEnd(), false);
      }
      if (e.nextNameStart() >= 0) {                        // `"usage": …, ` before the next member
        return cut(payloadStart + e.nameStart(), payloadStart + e.nextNameStart(), false);
      }
      return cut(payloadStart + e.nameStart(), payloadStart + e.valueEnd(), false);
    } catch (IOException | RuntimeException notMetered) {
      return false;
    }
  }

  private boolean cut(int from, int to, boolean withNull) {
    editFrom = from;
    editTo = to;
    editWithNull = withNull;
    return true;
  }

  private void meter(EventJson e) {
    if (e.usage() != null) lastUsage = e.usage();
    if (e.content()) {
      contentEvents++;
      long now = System.nanoTime();
      if (firstTokenAt == null) firstTokenAt = clock.instant();
      else interToken.accept((now - lastContentNanos) / 1e9);
      lastContentNanos = now;
    }
  }

  /**
   * Just past the terminator ("\n\n" or "\r\n\r\n") of the event starting at {@code from}, or -1; notes the event's
   * first line end in {@link #firstLineEnd} on the way, so that the usual one-line event is read only once.
   */
  private int eventEnd(byte[] b, int from) {
    firstLineEnd = -1;
    for (int i = from + 1; i < b.length; i++) {
      if (b[i] != '\n') continue;
      if (firstLineEnd < 0) firstLineEnd = i;
      if (b[i - 1] == '\n') return i + 1;
      if (i - 3 >= from && b[i - 1] == '\r' && b[i - 2] == '\n' && b[i - 3] == '\r') return i + 1;
    }
    return -1;
  }

  private static int indexOf(byte[] b, byte x, int from, int to) {
    for (int i = from; i < to; i++) if (b[i] == x) return i;
    return -1;
  }

  private static boolean startsWith(byte[] b, int from, int to, byte[] prefix) {
    if (to - from < prefix.length) return false;
    for (int i = 0; i < prefix.length; i++) if (b[from + i] != prefix[i]) return false;
    return true;
  }
}
