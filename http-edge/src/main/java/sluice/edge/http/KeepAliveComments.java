package sluice.edge.http;

import java.time.Duration;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.FlowShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.stage.AbstractInOutHandler;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;

/**
 * Passes a stream's pieces and inserts {@code comment} once none has gone out for {@code every}. Pekko's
 * {@code keepAlive} does the same by cancelling and scheduling a timer for every element; with 10,000 streams of one
 * token a second that was 10,000 timer tasks a second through the scheduler. Here a piece only notes its time, and the
 * one timer of the stream, when it fires, either sends the comment or sleeps until {@code every} after the last piece:
 * a timer task per {@code every} of a stream, not per piece.
 */
final class KeepAliveComments extends GraphStage<FlowShape<ByteString, ByteString>> {
  private static final Object TICK = "tick";

  private final Inlet<ByteString> in = Inlet.create("KeepAliveComments.in");
  private final Outlet<ByteString> out = Outlet.create("KeepAliveComments.out");
  private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);
  private final Duration every;
  private final ByteString comment;

  KeepAliveComments(Duration every, ByteString comment) {
    if (every.isNegative() || every.isZero()) throw new IllegalArgumentException("keep-alive interval must be positive: " + every);
    this.every = every;
    this.comment = comment;
  }

  @Override public FlowShape<ByteString, ByteString> shape() {
    return shape;
  }

  @Override public GraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      private long lastOut = System.nanoTime();

      {
        setHandlers(in, out, new AbstractInOutHandler() {
          @Override public void onPush() {
            lastOut = System.nanoTime();
            // a comment may hold the outlet; emit then waits for the next pull
            emit(out, grab(in));
          }

          @Override public void onPull() {
            if (!hasBeenPulled(in) && !isClosed(in)) pull(in);
          }

          @Override public void onUpstreamFinish() {
            complete(out);                             // after a piece still being emitted
          }
        });
      }

      @Override public void preStart() {
        scheduleOnce(TICK, every);
      }

      @Override public void onTimer(Object key) {
        long now = System.nanoTime();
        Duration silent = Duration.ofNanos(now - lastOut);
        if (silent.compareTo(every) < 0) {
          scheduleOnce(TICK, every.minus(silent));     // a piece went out meanwhile: due every after it
        } else {
          if (isAvailable(out)) {                      // else the client is not reading: nothing to keep alive
            lastOut = now;
            push(out, comment);
          }
          scheduleOnce(TICK, every);
        }
      }
    };
  }
}
