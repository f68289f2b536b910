package sluice.bridge.stream;

import java.time.Duration;
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
 */
public final class MuxSource extends GraphStage<SourceShape<ByteString>> {
  /** Tells a body that its connection stopped answering; returns how to stop being told. */
  @FunctionalInterface
  public interface Watch {
    Runnable watch(Consumer<ClusterException> onUnresponsive);

    Watch NONE = onUnresponsive -> () -> {};
  }

  private static final String SILENCE = "silence";

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
        AsyncCallback<NotUsed> wake = createAsyncCallback(n -> deliver());
        AsyncCallback<ClusterException> stalled = createAsyncCallback(this::abort);
        stream.setListener(() -> wake.invoke(NotUsed.getInstance()));
        unwatch = watch.watch(stalled::invoke);
      }

      private void deliver() {
        if (finished || !isAvailable(out)) return;
        try {
          byte[] chunk = stream.poll();
          if (chunk != null) {
            cancelTimer(SILENCE);
            push(out, ByteString.fromArrayUnsafe(chunk));     // the frame's own array: never reused by the session
          } else if (stream.isInputFinished()) {
            finished = true;
            completeStage();
          } else if (!silence.isZero() && !isTimerActive(SILENCE)) {
            scheduleOnce(SILENCE, silence);                   // downstream waits: from now on the agent owes a byte
          }
        } catch (StreamResetException e) {
          finished = true;
          failStage(broken(e));
        }
      }

      @Override public void onTimer(Object key) {
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
