package sluice.edge.http;

import java.time.Duration;
import java.util.Optional;
import org.apache.pekko.NotUsed;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.util.ByteString;

/**
 * Re-chunks a server-sent event stream at event boundaries without changing a byte, so that keep-alive comments can
 * be inserted between events while the model is silent. An upstream chunk may end mid-event; inserting a comment
 * there would corrupt the event, so partial events are held back until they are complete.
 */
public final class SseEvents {
  private SseEvents() {}

  public static final ByteString KEEP_ALIVE = ByteString.fromString(": keep-alive\n\n");

  /** Whole events only; an event larger than {@code maxEventBytes} fails the stream rather than growing without bound. */
  public static Flow<ByteString, ByteString, NotUsed> wholeEvents(int maxEventBytes) {
    return Flow.<ByteString>create()
        .statefulMap(ByteString::emptyByteString, (pending, chunk) -> {
          ByteString all = pending.concat(chunk);
          int end = endOfLastEvent(all);
          if (all.size() - end > maxEventBytes) throw new IllegalStateException("an SSE event exceeds " + maxEventBytes + " bytes");
          return Pair.create(all.drop(end), all.take(end));
        }, pending -> pending.isEmpty() ? Optional.empty() : Optional.of(pending))
        .filter(b -> !b.isEmpty());
  }

  /**
   * Comment lines while no event flows, so proxies and clients do not drop a silent connection: one after each
   * {@code every} of silence ({@link KeepAliveComments}).
   */
  public static Flow<ByteString, ByteString, NotUsed> keepAlive(Duration every) {
    return Flow.fromGraph(new KeepAliveComments(every, KEEP_ALIVE));
  }

  /** Index just past the last event terminator ("\n\n" or "\r\n\r\n"), or 0 if there is none. */
  static int endOfLastEvent(ByteString s) {
    for (int i = s.size() - 1; i >= 1; i--) {
      if (s.apply(i) != '\n') continue;
      if (s.apply(i - 1) == '\n') return i + 1;
      if (i >= 3 && s.apply(i - 1) == '\r' && s.apply(i - 2) == '\n' && s.apply(i - 3) == '\r') return i + 1;
    }
    return 0;
  }
}
