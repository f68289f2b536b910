package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.ProblemCode;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.metrics.MetricValues;
import sluice.core.metrics.SluiceMetrics;
import sluice.core.tunnel.TunnelObserver;

/**
 * sluice_agent_protocol_errors_total counts what the agent reports and what breaks its protocol, by code. The peer is
 * a protocol-level stand-in for the agent that answers each kind of call with one problem.
 */
@Timeout(60)
class AgentProblemsTest {
  private final SluiceMetrics metrics = SluiceMetrics.standalone(false);
  private final PrometheusRegistry registry = metrics.registry;
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private final List<AutoCloseable> open = new ArrayList<>();
  private OutputStream agentOut;

  @AfterEach void close() throws Exception {
    for (AutoCloseable c : open) c.close();
    pool.shutdownNow();
  }

  /** Probe: an error reply; submit: the scheduler failed; forward: reset before the head; cancel: a malformed frame. */
  private void serve(MuxStream stream) {
    try {
      Messages.Call call = stream.call();
      if (call instanceof Messages.Probe) {
        stream.sendReply(Messages.Reply.error(404, ProblemCode.UNKNOWN_JOB, "no job 7"), true);
      } else if (call instanceof Messages.Submit) {
        stream.sendReply(Messages.Reply.error(503, ProblemCode.SCHEDULER_ERROR, "sbatch failed"), true);
      } else if (call instanceof Messages.Forward) {
        stream.reset(ProblemCode.REFUSED, "too many open streams");
      } else if (call instanceof Messages.Cancel) {
        agentOut.write(new byte[] {9, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0});      // frame version 9: no conforming peer sends it
        agentOut.flush();
      } else {
        stream.reset(ProblemCode.INTERNAL, "not used here");
      }
    } catch (IOException e) {
      stream.reset(ProblemCode.INTERNAL, String.valueOf(e));
    }
  }

  private BridgeClusterGateway gateway() throws IOException {
    SocketPair pair = SocketPair.open(open);
    Socket client = pair.client();
    Socket server = pair.server();
    agentOut = server.getOutputStream();
    Banner.write(agentOut);
    MuxSession.server(server.getInputStream(), agentOut, Limits.DEFAULT, "stand-in", stream -> pool.submit(() -> serve(stream)))
        .start("stand-in");
    AgentConnection conn = AgentConnection.handshake("login1", client.getInputStream(), client.getOutputStream(), Limits.DEFAULT,
        Duration.ofSeconds(10), () -> { });
    AgentLink link = new AgentLink("c", observer -> conn, pool, Duration.ofMillis(100), Duration.ofSeconds(1),
        Duration.ofSeconds(5), TunnelObserver.NONE, AgentProblems.of(metrics));
    BridgeClusterGateway g = new BridgeClusterGateway("c", "dep", link, ForkJoinPool.commonPool(),
        new BridgeClusterGateway.Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ZERO), Duration.ZERO);
    open.add(g);
    return g;
  }

  private static ClusterFailure failure(CompletionStage<?> call) {
    ExecutionException e = assertThrows(ExecutionException.class, () -> call.toCompletableFuture().get(10, TimeUnit.SECONDS));
    return ClusterException.in(e).orElseThrow(() -> new AssertionError("not a cluster failure", e)).reason();
  }

  private double errors(String code) { return MetricValues.value(registry, "sluice_agent_protocol_errors_total", "code", code); }

  @Test void errorRepliesResetsAndAProtocolViolationAreCountedByCodeOnce() throws Exception {
    BridgeClusterGateway g = gateway();
    assertEquals(ClusterFailure.UNKNOWN_JOB, failure(g.probe("svc", "7")));
    assertEquals(ClusterFailure.UNKNOWN_JOB, failure(g.probe("svc", "7")));
    assertEquals(ClusterFailure.SCHEDULER_ERROR, failure(g.submit("svc", "dep.00112233")));
    assertEquals(ClusterFailure.AGENT_BUSY, failure(g.forward(new UpstreamRequest("svc", "7", "POST", "/v1/completions",
        Map.of(), ByteString.emptyByteString(), "req"))));
    assertEquals(2.0, errors("unknown_job"));
    assertEquals(1.0, errors("scheduler_error"));
    assertEquals(1.0, errors("refused"));
    assertEquals(0.0, errors("protocol_error"), "exported at 0 before it happens");
    assertEquals(14, MetricValues.series(registry, "sluice_agent_protocol_errors_total").size(),
        "every code but normal, eof, io_error and session_closed");

    g.cancel("7");                                                   // the stand-in answers with a malformed frame
    Await.until(Duration.ofSeconds(10), "the session to end on a protocol error", () -> errors("protocol_error") == 1.0);
    assertEquals(0.0, MetricValues.value(registry, "sluice_agent_protocol_errors_total", "code", "session_closed"),
        "the calls the session took with it are a lost connection, not another problem");
    assertEquals(2.0, errors("unknown_job"));
  }
}
