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
 * Passes a stream's pieces and inserts {@code comment} when none has gone out for {@code every}, checked on a timer
 * that ticks every half of it: a comment follows between {@code every} and 1.5 × {@code every} of silence. Pekko's
 * {@code keepAlive} cancels and schedules a timer for every element; with 10,000 streams of one token a second that
 * was 10,000 timer tasks a second through the scheduler, where this stage has one fixed timer per stream.
 */
final class KeepAliveComments extends GraphStage<FlowShape<ByteString, ByteString>> {
  private static final Object TICK = "tick";

  private final Inlet<ByteString> in = Inlet.create("KeepAliveComments.in");
  private final Outlet<ByteString> out = Outlet.create("KeepAliveComments.out");
  private final FlowShape<ByteString, ByteString> shape = FlowShape.of(in, out);
  private final long everyNanos;
  private final Duration tick;
  private final ByteString comment;

  KeepAliveComments(Duration every, ByteString comment) {
    if (every.isNegative() || every.isZero()) throw new IllegalArgumentException("keep-alive interval must be positive: " + every);
    this.everyNanos = every.toNanos();
    this.tick = every.dividedBy(2).isZero() ? every : every.dividedBy(2);
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
        scheduleWithFixedDelay(TICK, tick, tick);
      }

      @Override public void onTimer(Object key) {
        long now = System.nanoTime();
        if (now - lastOut >= everyNanos && isAvailable(out)) {
          lastOut = now;
          push(out, comment);
        }
      }
    };
  }
}
