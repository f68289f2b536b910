package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.testing.Await;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.SlurmState;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.cluster.UpstreamResponse;

/** The gateway side of the protocol against the real agent, local scheduler and a mock-llm job. */
@Timeout(120)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class BridgeClusterGatewayTest {
  @TempDir static Path dir;
  static LocalClusterFixture cluster;
  static ActorSystem<Void> system;
  static String job;
  private static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "bridge-test");
    cluster = new LocalClusterFixture(dir, "--tokens 400 --token-delay-ms 20", "10");
    JobSnapshot submitted = cluster.gateway.submit("mock-llm", "test.job-1").toCompletableFuture().get(30, TimeUnit.SECONDS);
    job = submitted.jobId();
    await("mock-llm ready", () -> cluster.gateway.probe("mock-llm", job).toCompletableFuture().join().ready());
  }

  @AfterAll static void stop() throws Exception {
    cluster.close();
    system.terminate();
  }

  /** Waits for a state of the cluster; a failed call counts as "not yet", since the agent may be restarting. */
  static void await(String what, Await.Condition condition) throws Exception {
    Await.ignoring(CompletionException.class).until(Duration.ofSeconds(60), what, condition);
  }

  private static UpstreamResponse post(String path, String body) throws Exception {
    return cluster.gateway.forward(new UpstreamRequest("mock-llm", job, "POST", path,
        Map.of("Content-Type", "application/json"), ByteString.fromString(body), "req-test")).toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  private static String bodyOf(UpstreamResponse r) throws Exception {
    return r.body().runWith(Sink.fold(ByteString.emptyByteString(), ByteString::concat), system)
        .toCompletableFuture().get(30, TimeUnit.SECONDS).utf8String();
  }

  private static JsonNode stats() throws Exception {
    UpstreamResponse r = cluster.gateway.forward(new UpstreamRequest("mock-llm", job, "GET", "/stats", Map.of(),
        ByteString.emptyByteString(), null)).toCompletableFuture().get(30, TimeUnit.SECONDS);
    return JSON.readTree(bodyOf(r));
  }

  @Test @Order(1) void submittedJobRunsAndIsListedWithItsTag() throws Exception {
    List<JobSnapshot> jobs = cluster.gateway.jobs().toCompletableFuture().get(30, TimeUnit.SECONDS);
    JobSnapshot j = jobs.stream().filter(s -> s.jobId().equals(job)).findFirst().orElseThrow();
    assertEquals(SlurmState.RUNNING, j.state());
    assertEquals("test.job-1", j.tag());
    assertEquals("localhost", j.node());
    assertEquals(j.startTime().plusSeconds(600), j.endTime());
  }

  @Test @Order(2) void nonStreamingCompletionPassesThroughUnmodified() throws Exception {
    UpstreamResponse r = post("/v1/chat/completions",
        "{\"model\":\"mock-llm\",\"max_tokens\":5,\"messages\":[{\"role\":\"user\",\"content\":\"hello there\"}]}");
    assertEquals(200, r.status());
    assertTrue(r.headers().get("content-type").startsWith("application/json"));
    JsonNode body = JSON.readTree(bodyOf(r));
    assertEquals(5, body.at("/usage/completion_tokens").asInt());
    assertEquals(2, body.at("/usage/prompt_tokens").asInt());
  }

  @Test @Order(3) void logTailShowsTheJobsOutputWithItsSecretMasked() throws Exception {
    String token = JSON.readTree(dir.resolve("state/jobs/" + job + "/job.json").toFile()).get("token").asText();
    List<String> tail = cluster.gateway.logTail("mock-llm", job, 50).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertTrue(tail.stream().anyMatch(l -> l.startsWith("mock-llm listening on http://")), "mock-llm's startup line: " + tail);
    assertTrue(tail.contains("job secret: ***"), tail.toString());
    assertTrue(tail.stream().noneMatch(l -> l.contains(token)), "the job's secret never leaves the agent: " + tail);
    assertEquals(tail.subList(tail.size() - 1, tail.size()),
        cluster.gateway.logTail("mock-llm", job, 1).toCompletableFuture().get(30, TimeUnit.SECONDS));
    assertEquals(tail, cluster.gateway.logTail("mock-llm", job, 10_000).toCompletableFuture().get(30, TimeUnit.SECONDS),
        "more than the protocol allows is asked as its maximum");
    assertEquals(List.of(), cluster.gateway.logTail("mock-llm", job, 0).toCompletableFuture().get(30, TimeUnit.SECONDS));
    var foreign = assertThrows(ExecutionException.class,
        () -> cluster.gateway.logTail("mock-llm", "99999", 10).toCompletableFuture().get(30, TimeUnit.SECONDS));
    ClusterException e = assertInstanceOf(ClusterException.class, foreign.getCause());
    assertEquals(ClusterFailure.UNKNOWN_JOB, e.reason());
  }

  @Test @Order(4) void streamingCompletionArrivesAsServerSentEvents() throws Exception {
    UpstreamResponse r = post("/v1/chat/completions",
        "{\"model\":\"mock-llm\",\"stream\":true,\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}");
    assertEquals(200, r.status());
    assertTrue(r.headers().get("content-type").startsWith("text/event-stream"));
    String sse = bodyOf(r);
    assertTrue(sse.endsWith("data: [DONE]\n\n"), sse);
    assertEquals(4 + 3, sse.split("\n\n").length, "role chunk, 4 tokens, final chunk, [DONE]");
  }

  @Test @Order(5) void cancellingTheBodyAbortsGenerationOnTheModelServer() throws Exception {
    int abortedBefore = stats().get("streams_aborted").asInt();
    UpstreamResponse r = post("/v1/completions", "{\"model\":\"mock-llm\",\"stream\":true,\"prompt\":\"a long story\"}");
    // Read three chunks of a 400-token stream, then leave, as a disconnecting HTTP client does.
    List<ByteString> first = r.body().take(3).runWith(Sink.seq(), system).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertEquals(3, first.size());
    // Any failure to read the figures counts as "not yet", as it did when this wait was written by hand.
    Await.ignoring(Exception.class).until(Duration.ofSeconds(60), "mock-llm to see its client go away", () -> {
      JsonNode s = stats();
      return s.get("streams_aborted").asInt() == abortedBefore + 1 && s.get("active_streams").asInt() == 0;
    });
  }

  @Test @Order(6) void refusalsBecomeClusterExceptionsThatNeverReachedTheModel() {
    var notAllowed = assertThrows(ExecutionException.class, () -> cluster.gateway.forward(new UpstreamRequest("mock-llm", job,
        "POST", "/v1/embeddings", Map.of(), ByteString.fromString("{}"), "r")).toCompletableFuture().get(30, TimeUnit.SECONDS));
    ClusterException e = assertInstanceOf(ClusterException.class, notAllowed.getCause());
    assertEquals(ClusterFailure.PATH_NOT_ALLOWED, e.reason());
    assertFalse(e.reason().worthRetrying(), "a refusal of the path is not retried on another replica");
    var unknownJob = assertThrows(ExecutionException.class, () -> cluster.gateway.forward(new UpstreamRequest("mock-llm", "99999",
        "POST", "/v1/completions", Map.of(), ByteString.fromString("{}"), "r")).toCompletableFuture().get(30, TimeUnit.SECONDS));
    assertEquals(ClusterFailure.UNKNOWN_JOB, ((ClusterException) unknownJob.getCause()).reason());
    assertTrue(ClusterFailure.UNKNOWN_JOB.worthRetrying(), "a job the agent does not know: another replica may answer");
  }

  @Test @Order(7) void onlyThisDeploymentsJobsAreListed() throws Exception {
    JobSnapshot foreign = cluster.gateway.submit("mock-llm", "other-deployment.x").toCompletableFuture().get(30, TimeUnit.SECONDS);
    cluster.gateway.cancel(foreign.jobId()).toCompletableFuture().get(30, TimeUnit.SECONDS);
    assertTrue(cluster.gateway.jobs().toCompletableFuture().get().stream().noneMatch(j -> j.jobId().equals(foreign.jobId())));
  }

  @Test @Order(8) void jobsOutliveAnAgentCrashAndTheLinkReconnects() throws Exception {
    List<ProcessHandle> agents = LocalClusterFixture.agents();
    assertEquals(1, agents.size(), "one agent process per cluster");
    agents.get(0).destroyForcibly();
    agents.get(0).onExit().get(10, TimeUnit.SECONDS);
    await("the job listed again by a new agent", () -> cluster.gateway.jobs().toCompletableFuture().join().stream()
        .anyMatch(j -> j.jobId().equals(job) && j.state() == SlurmState.RUNNING));
    assertEquals(200, post("/v1/completions", "{\"model\":\"mock-llm\",\"max_tokens\":2,\"prompt\":\"x\"}").status());
  }

  @Test @Order(9) void cancelEndsTheJob() throws Exception {
    assertTrue(cluster.gateway.cancel(job).toCompletableFuture().get(30, TimeUnit.SECONDS));
    await("the job cancelled", () -> cluster.gateway.jobs().toCompletableFuture().join().stream()
        .anyMatch(j -> j.jobId().equals(job) && j.state() == SlurmState.CANCELLED));
  }
}
