package sluice.edge.usage;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import sluice.edge.http.SseEvents;

/** Runs bytes through a meter's flows the way the proxy does, and cuts bodies into pieces. */
final class Streams {
  private Streams() {}

  static final Duration WAIT = Duration.ofSeconds(10);

  /** Upstream pieces → whole events (as the proxy cuts them) → the meter's SSE flow → everything the client gets. */
  static ByteString sse(ActorSystem<?> system, UsageMeter meter, boolean include, boolean continuous, List<ByteString> pieces)
      throws Exception {
    return run(system, pieces, SseEvents.wholeEvents(4 * 1024 * 1024).via(meter.sse(include, continuous)));
  }

  static ByteString json(ActorSystem<?> system, UsageMeter meter, List<ByteString> pieces) throws Exception {
    return run(system, pieces, meter.json());
  }

  private static ByteString run(ActorSystem<?> system, List<ByteString> pieces, Flow<ByteString, ByteString, NotUsed> flow)
      throws Exception {
    return Source.from(pieces).via(flow)
        .runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), system)
        .toCompletableFuture().get(WAIT.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** The body cut at {@code at}. */
  static List<ByteString> splitAt(ByteString body, int at) {
    return List.of(body.take(at), body.drop(at));
  }

  /** The body in pieces of {@code size} bytes. */
  static List<ByteString> pieces(ByteString body, int size) {
    List<ByteString> pieces = new ArrayList<>();
    for (int i = 0; i < body.size(); i += size) pieces.add(body.slice(i, Math.min(body.size(), i + size)));
    return pieces;
  }

  /** A stream's events, each with its terminator. */
  static List<ByteString> events(ByteString body) {
    List<ByteString> events = new ArrayList<>();
    String s = body.utf8String();
    int from = 0;
    for (int end = s.indexOf("\n\n", from); end >= 0; end = s.indexOf("\n\n", from)) {
      events.add(ByteString.fromString(s.substring(from, end + 2)));
      from = end + 2;
    }
    return events;
  }
}
