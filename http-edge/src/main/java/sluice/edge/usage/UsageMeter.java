package sluice.edge.usage;

import java.io.IOException;
import java.time.Clock;
import java.time.Instant;
import java.util.Optional;
import java.util.function.DoubleConsumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;

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

  /** Meters every whole event of a piece and rebuilds the piece only if an event changes. */
  private ByteString events(ByteString piece, Policy policy) {
    byte[] b = piece.toArrayUnsafe();
    ByteStringBuilder out = null;
    int copied = 0;
    int pos = 0;
    while (pos < b.length) {
      int end = eventEnd(b, pos);
      if (end < 0) break;                                  // an unterminated tail (a stream that broke off): as is
      byte[] replacement = event(b, pos, end, policy);
      // A piece that is one event, as on a stream whose tokens come one at a time, needs no builder: with 8,000 slow
      // streams open, a builder and its buffers per event were 9 % of the gateway's allocation (async-profiler).
      if (replacement != null && pos == 0 && end == b.length) return ByteString.fromArrayUnsafe(replacement);
      if (replacement != null) {
        if (out == null) out = new ByteStringBuilder();
        out.putBytes(b, copied, pos - copied);
        out.putBytes(replacement);
        copied = end;
      }
      pos = end;
    }
    if (out == null) return piece;
    out.putBytes(b, copied, b.length - copied);
    return out.result();
  }

  /** The event's new bytes (empty to drop it), or null to keep it as it is. Never throws. */
  private byte[] event(byte[] b, int from, int to, Policy policy) {
    try {
      int payloadStart = -1;
      int payloadEnd = -1;
      for (int line = from; line < to; ) {
        int eol = indexOf(b, (byte) '\n', line, to);
        int lineEnd = eol < 0 ? to : eol;
        int contentEnd = lineEnd > line && b[lineEnd - 1] == '\r' ? lineEnd - 1 : lineEnd;
        if (startsWith(b, line, contentEnd, DATA)) {
          if (payloadStart >= 0) return null;              // several data lines: not a completion chunk
          payloadStart = line + DATA.length;
          if (payloadStart < contentEnd && b[payloadStart] == ' ') payloadStart++;
          payloadEnd = contentEnd;
        }
        line = lineEnd + 1;
      }
      if (payloadStart < 0) return null;
      if (payloadEnd - payloadStart == DONE.length && startsWith(b, payloadStart, payloadEnd, DONE)) {
        reachedEnd = true;
        return null;
      }
      EventJson e = EventJson.scan(b, payloadStart, payloadEnd);
      if (e == null) return null;
      meter(e);
      if (e.usageMembers() != 1 || policy == Policy.KEEP) return null;
      if (policy == Policy.NULL_ON_CHOICES) {
        if (e.choices() <= 0 || e.usageIsNull()) return null;
        return splice(b, from, to, payloadStart + e.valueStart(), payloadStart + e.valueEnd(), NULL);
      }
      if (e.choices() == 0 && !e.usageIsNull()) return new byte[0];   // the usage-only chunk
      if (e.prevValueEnd() >= 0) {                         // `, "usage": …` after the previous member
        return splice(b, from, to, payloadStart + e.prevValueEnd(), payloadStart + e.valueEnd(), new byte[0]);
      }
      if (e.nextNameStart() >= 0) {                        // `"usage": …, ` before the next member
        return splice(b, from, to, payloadStart + e.nameStart(), payloadStart + e.nextNameStart(), new byte[0]);
      }
      return splice(b, from, to, payloadStart + e.nameStart(), payloadStart + e.valueEnd(), new byte[0]);
    } catch (IOException | RuntimeException notMetered) {
      return null;
    }
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

  /** Bytes [from, to) with [cutFrom, cutTo) replaced. */
  private static byte[] splice(byte[] b, int from, int to, int cutFrom, int cutTo, byte[] with) {
    byte[] r = new byte[(cutFrom - from) + with.length + (to - cutTo)];
    System.arraycopy(b, from, r, 0, cutFrom - from);
    System.arraycopy(with, 0, r, cutFrom - from, with.length);
    System.arraycopy(b, cutTo, r, cutFrom - from + with.length, to - cutTo);
    return r;
  }

  /** Just past the terminator ("\n\n" or "\r\n\r\n") of the event starting at {@code from}, or -1. */
  static int eventEnd(byte[] b, int from) {
    for (int i = from + 1; i < b.length; i++) {
      if (b[i] != '\n') continue;
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
