package sluice.bridge.stream;

import java.time.Duration;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.apache.pekko.util.ByteStringBuilder;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;
import sluice.bridge.AgentFailures;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;

/**
 * The inbound bytes of a mux stream as a Pekko {@code Source}, without a thread per stream: the session's reader
 * wakes the stage through an async callback, and the stage takes a chunk only when downstream pulls. Taking a chunk
 * is what grants the agent more credit, so a slow HTTP client slows the model server and nothing else. Cancelling
 * the source (the client went away) resets the stream, which aborts the request on the compute node.
 *
 * <p>A body never hangs on a stalled agent: it fails with a {@link ClusterException} when its connection is marked
 * unresponsive (the agent answers no ping), and with {@link ClusterFailure#UPSTREAM_TIMEOUT} when downstream has
 * waited {@code silence} for a byte that did not come (time the client itself does not read is not counted).
 *
 * <p>The work per element (stages, wake-ups, writes) hardly depends on its size, so when downstream pulls it takes every chunk buffered
 * by then (up to {@link #MAX_ELEMENT}) as one element, and the reader wakes it once for a run of frames, not per
 * frame: a fast stream behind a busy client becomes few large elements instead of one per SSE event.
 */
public final class MuxSource extends GraphStage<SourceShape<ByteString>> {
  /** Tells a body that its connection stopped answering; returns how to stop being told. */
  @FunctionalInterface
  public interface Watch {
    Runnable watch(Consumer<ClusterException> onUnresponsive);

    Watch NONE = onUnresponsive -> () -> {};
  }

  private static final String SILENCE = "silence";
  /** Chunks buffered at a pull are joined up to this size; more than a frame, less than a stream's window. */
  static final int MAX_ELEMENT = 64 * 1024;

  private final MuxStream stream;
  private final Duration silence;
  private final Watch watch;
  private final Outlet<ByteString> out = Outlet.create("MuxSource.out");
  private final SourceShape<ByteString> shape = SourceShape.of(out);

  private MuxSource(MuxStream stream, Duration silence, Watch watch) {
    this.stream = stream;
    this.silence = silence;
    this.watch = watch;
  }

  /** @param silence how long a waiting body may get no byte before it fails; zero: forever */
  public static Source<ByteString, NotUsed> of(MuxStream stream, Duration silence, Watch watch) {
    return Source.fromGraph(new MuxSource(stream, silence, watch));
  }

  @Override public SourceShape<ByteString> shape() { return shape; }

  @Override public GraphStageLogic createLogic(Attributes attributes) {
    return new TimerGraphStageLogic(shape) {
      private boolean finished;
      private Runnable unwatch = () -> {};
      /** A wake is on its way to the stage: the reader need not send another. */
      private final AtomicBoolean wakePending = new AtomicBoolean();
      /** When downstream started waiting for a byte that has not come (System.nanoTime), or 0 when it is not waiting. */
      private long waitingSince;

      {
        setHandler(out, new AbstractOutHandler() {
          @Override public void onPull() { deliver(); }

          @Override public void onDownstreamFinish(Throwable cause) {
            stream.reset(ProblemCode.CANCELLED, "the client went away");
            finished = true;
            completeStage();
          }
        });
      }

      @Override public void preStart() {
        AsyncCallback<NotUsed> wake = createAsyncCallback(n -> {
          wakePending.set(false);                               // before polling: a frame after this poll wakes again
          deliver();
        });
        AsyncCallback<ClusterException> stalled = createAsyncCallback(this::abort);
        stream.setListener(() -> {
          if (wakePending.compareAndSet(false, true)) wake.invoke(NotUsed.getInstance());
        });
        unwatch = watch.watch(stalled::invoke);
        // One periodic check instead of a timer set and cancelled around every element; it fires at most an eighth
        // of the bound late.
        if (!silence.isZero()) scheduleWithFixedDelay(SILENCE, silenceCheck(), silenceCheck());
      }

      private Duration silenceCheck() {
        return Duration.ofNanos(Math.max(silence.toNanos() / 8, Duration.ofMillis(10).toNanos()));
      }

      private void deliver() {
        if (finished || !isAvailable(out)) return;
        try {
          byte[] chunk = stream.poll();
          if (chunk != null) {
            waitingSince = 0;
            push(out, withBuffered(chunk));
          } else if (stream.isInputFinished()) {
            finished = true;
            completeStage();
          } else if (waitingSince == 0) {
            waitingSince = Math.max(1, System.nanoTime());      // downstream waits: from now on the agent owes a byte
          }
        } catch (StreamResetException e) {
          finished = true;
          failStage(broken(e));
        }
      }

      /** {@code first} and whatever else is buffered now, as one element (the frames' own arrays: never reused). */
      private ByteString withBuffered(byte[] first) throws StreamResetException {
        byte[] next = first.length < MAX_ELEMENT ? stream.poll() : null;
        if (next == null) return ByteString.fromArrayUnsafe(first);
        ByteStringBuilder joined = new ByteStringBuilder();
        joined.putBytes(first);
        do {
          joined.putBytes(next);
        } while (joined.length() < MAX_ELEMENT && (next = stream.poll()) != null);
        return joined.result();
      }

      @Override public void onTimer(Object key) {
        if (waitingSince == 0 || System.nanoTime() - waitingSince < silence.toNanos()) return;
        abort(new ClusterException(ClusterFailure.UPSTREAM_TIMEOUT,
            "the model server sent nothing for " + silence.toSeconds() + " s (response-silence-timeout)"));
      }

      /** Gives up on the body: the agent is told to abort the upstream request, if it ever reads again. */
      private void abort(ClusterException why) {
        if (finished) return;
        finished = true;
        stream.reset(ProblemCode.CANCELLED, why.getMessage());
        failStage(why);
      }

      @Override public void postStop() {
        unwatch.run();
        if (!finished) stream.reset(ProblemCode.CANCELLED, "stream stopped");
      }
    };
  }

  static ClusterException broken(StreamResetException e) {
    String message = e.code() == ProblemCode.SESSION_CLOSED
        ? "the connection to the cluster was lost mid-response"
        : "the response was broken off: " + e.getMessage();
    return AgentFailures.reset(e, message);
  }
}
