package sluice.bridge.stream;

import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SourceShape;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.util.ByteString;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;
import sluice.bridge.AgentFailures;
import sluice.core.cluster.ClusterException;

/**
 * The inbound bytes of a mux stream as a Pekko {@code Source}, without a thread per stream: the session's reader
 * wakes the stage through an async callback, and the stage takes a chunk only when downstream pulls. Taking a chunk
 * is what grants the agent more credit, so a slow HTTP client slows the model server and nothing else. Cancelling
 * the source (the client went away) resets the stream, which aborts the request on the compute node.
 */
public final class MuxSource extends GraphStage<SourceShape<ByteString>> {
  private final MuxStream stream;
  private final Outlet<ByteString> out = Outlet.create("MuxSource.out");
  private final SourceShape<ByteString> shape = SourceShape.of(out);

  private MuxSource(MuxStream stream) { this.stream = stream; }

  public static Source<ByteString, NotUsed> of(MuxStream stream) {
    return Source.fromGraph(new MuxSource(stream));
  }

  @Override public SourceShape<ByteString> shape() { return shape; }

  @Override public GraphStageLogic createLogic(Attributes attributes) {
    return new GraphStageLogic(shape) {
      private boolean finished;

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
        stream.setListener(() -> wake.invoke(NotUsed.getInstance()));
      }

      private void deliver() {
        if (finished || !isAvailable(out)) return;
        try {
          byte[] chunk = stream.poll();
          if (chunk != null) {
            push(out, ByteString.fromArrayUnsafe(chunk));     // the frame's own array: never reused by the session
          } else if (stream.isInputFinished()) {
            finished = true;
            completeStage();
          }
        } catch (StreamResetException e) {
          finished = true;
          failStage(broken(e));
        }
      }

      @Override public void postStop() {
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
