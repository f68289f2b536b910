package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.sched.Scheduler;
import sluice.agent.testing.Await;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.WireJson;

/** The agent's decisions and streaming, with a scheduler stand-in below it and a real HTTP server as the model. */
@Timeout(30)
class AgentTest {
  @TempDir Path dir;
  private HttpServer upstream;
  private Agent agent;
  // The model server's threads are named, so that the agent's own threads can be told apart from them.
  private final AtomicInteger modelThreads = new AtomicInteger();
  private final ExecutorService pool = Executors.newCachedThreadPool(r -> new Thread(r, "model-" + modelThreads.incrementAndGet()));
  private final CountDownLatch slowRelease = new CountDownLatch(1);
  private final AtomicInteger slowOpen = new AtomicInteger();
  private MuxSession client;
  private MuxSession server;
  private final Map<String, String> seenHeaders = new ConcurrentHashMap<>();
  private final CompletableFuture<Throwable> streamWriteFailure = new CompletableFuture<>();
  private final AtomicInteger upstreamCalls = new AtomicInteger();
  private volatile int healthStatus = 200;
  private volatile long healthDelayMillis;
  private final CountDownLatch pairRelease = new CountDownLatch(1);
  static final int BURST = 300;
  static final int FLOOD = 100_000;

  /** Jobs: 7 runs service m, 8 runs service other, 9 is m but still pending. */
  private final class FakeScheduler implements Scheduler {
    JobInfo job(String id, String service, JobState state) {
      return new JobInfo(id, service, "tag-" + id, state, "localhost", Instant.EPOCH, null, null, 60L, "None", null);
    }

    List<JobInfo> all() {
      return List.of(job("7", "m", JobState.RUNNING), job("8", "other", JobState.RUNNING), job("9", "m", JobState.PENDING));
    }

    @Override public JobInfo submit(ServiceSpec service, String tag) { return job("10", service.id(), JobState.PENDING); }

    @Override public List<JobInfo> jobs() { return all(); }

    @Override public Optional<JobInfo> job(String jobId) { return all().stream().filter(j -> j.id().equals(jobId)).findFirst(); }

    @Override public Optional<Messages.CancelResult> cancel(String jobId) {
      return job(jobId).map(j -> new Messages.CancelResult(jobId, true, j.state()));
    }

    @Override public Optional<Path> outputFile(JobInfo job) { return Optional.of(dir.resolve("slurm-" + job.id() + ".out")); }

    @Override public Optional<URI> endpoint(JobInfo job) {
      return job.state() == JobState.RUNNING ? Optional.of(URI.create("http://127.0.0.1:" + upstream.getAddress().getPort())) : Optional.empty();
    }
  }

  @BeforeEach void setUp() throws Exception {
    upstream = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 4096);
    upstream.setExecutor(pool);
    upstream.createContext("/health", ex -> {
      try {
        Thread.sleep(healthDelayMillis);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ex.sendResponseHeaders(healthStatus, -1);
      ex.close();
    });
    upstream.createContext("/v1/echo", ex -> {
      upstreamCalls.incrementAndGet();
      ex.getRequestHeaders().forEach((k, v) -> seenHeaders.put(k.toLowerCase(), v.get(0)));
      byte[] body = ex.getRequestBody().readAllBytes();
      ex.getResponseHeaders().add("Content-Type", "application/json");
      ex.getResponseHeaders().add("Server", "secret-backend/1.0");
      ex.sendResponseHeaders(201, body.length);
      ex.getResponseBody().write(body);
      ex.close();
    });
    upstream.createContext("/v1/stream", ex -> {
      upstreamCalls.incrementAndGet();
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      OutputStream out = ex.getResponseBody();
      try {
        for (int i = 0; i < 10_000; i++) {          // endless for the client that will leave
          out.write(("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
          Thread.sleep(i < 3 ? 0 : 20);             // paces the tokens like a model generating them; waits for nothing
        }
      } catch (IOException e) {
        streamWriteFailure.complete(e);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      ex.close();
    });
    upstream.createContext("/v1/slow", ex -> {
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        out.write("data: first\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        slowOpen.incrementAndGet();
        slowRelease.await();                            // every stream stays open until the test has looked
        out.write("data: last\n\n".getBytes(StandardCharsets.UTF_8));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    upstream.createContext("/v1/burst", ex -> {                // a fast model: a token a millisecond, each flushed
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        for (int i = 0; i < BURST; i++) {
          out.write(("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
          Thread.sleep(1);                                      // paces the tokens; waits for nothing
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    upstream.createContext("/v1/flood", ex -> {                // a model at full speed: each token flushed, no pause
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        for (int i = 0; i < FLOOD; i++) {
          out.write(("data: " + i + "\n\n").getBytes(StandardCharsets.UTF_8));
          out.flush();
        }
      }
    });
    upstream.createContext("/v1/pair", ex -> {                 // two tokens at once, then a long silence
      ex.getResponseHeaders().add("Content-Type", "text/event-stream");
      ex.sendResponseHeaders(200, 0);
      try (OutputStream out = ex.getResponseBody()) {
        out.write("data: a\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        out.write("data: b\n\n".getBytes(StandardCharsets.UTF_8));
        out.flush();
        pairRelease.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    });
    upstream.start();

    Files.writeString(dir.resolve("m.sbatch"), "#!/bin/bash\n");
    Files.writeString(dir.resolve("agent.json"), """
        {"sluice-agent": {"state-dir": "state", "upstream": {"probe-timeout": "1s", "min-frame-interval": "50ms"},
          "services": {
          "m": {"sbatch": "m.sbatch", "time-limit": "5",
                "allowed-paths": ["/v1/echo", "/v1/stream", "/v1/slow", "/v1/burst", "/v1/flood", "/v1/pair"]},
          "other": {"sbatch": "m.sbatch", "time-limit": "5", "allowed-paths": ["/v1/echo"]}}}}""");
    AgentConfig config = AgentConfig.load(dir.resolve("agent.json"));
    agent = new Agent(config, new FakeScheduler());
    SocketPairs pair = SocketPairs.open();
    server = MuxSession.server(pair.b.getInputStream(), pair.b.getOutputStream(), Limits.DEFAULT, "agent", agent::accept).start("agent");
    client = MuxSession.client(new BufferedInputStream(pair.a.getInputStream()), pair.a.getOutputStream(), Limits.DEFAULT, "gw").start("gw");
    client.peerHello().get(5, TimeUnit.SECONDS);
  }

  @AfterEach void tearDown() {
    pairRelease.countDown();
    client.close();
    server.close();
    upstream.stop(0);
    pool.shutdownNow();
    agent.close();
  }

  private record SocketPairs(java.net.Socket a, java.net.Socket b) {
    static SocketPairs open() throws IOException {
      try (var ss = new java.net.ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
        var a = new java.net.Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
        return new SocketPairs(a, ss.accept());
      }
    }
  }

  private Messages.Reply call(Messages.Call call) throws Exception {
    return client.open(call, true).reply().get(10, TimeUnit.SECONDS);
  }

  private static Messages.Forward fwd(String service, String job, String path, Map<String, String> headers) {
    return new Messages.Forward(service, job, "POST", path, headers, "req-42");
  }

  @Test void forwardsBodyAndAllowListedHeadersOnly() throws Exception {
    byte[] body = "{\"model\":\"m\"}".getBytes(StandardCharsets.UTF_8);
    MuxStream s = client.open(fwd("m", "7", "/v1/echo", Map.of("content-type", "application/json",
        "content-length", Integer.toString(body.length), "authorization", "Bearer sk-secret", "x-forwarded-for", "1.2.3.4")), false);
    s.write(body, 0, body.length);
    s.finish();
    Messages.Reply reply = s.reply().get(10, TimeUnit.SECONDS);
    assertEquals(201, reply.status(), "the model server's status passes through");
    assertEquals("application/json", reply.headers().get("content-type"));
    assertNull(reply.headers().get("server"), "backend identity stays on the cluster");
    assertEquals("{\"model\":\"m\"}", new String(s.inputStream().readAllBytes(), StandardCharsets.UTF_8));
    assertEquals(Integer.toString(body.length), seenHeaders.get("content-length"));
    assertEquals("req-42", seenHeaders.get("x-request-id"));
    assertFalse(seenHeaders.containsKey("authorization"), "credentials never reach the compute node");
    assertFalse(seenHeaders.containsKey("x-forwarded-for"));
  }

  @Test void largeAndUnannouncedBodiesStreamThrough() throws Exception {
    // Above 1 MiB the body is published to the model server as it arrives, with its Content-Length; without a length,
    // as it comes. Both must arrive whole, and a body that does not match its length is refused.
    byte[] big = new byte[3 << 20];
    for (int i = 0; i < big.length; i++) big[i] = (byte) ('a' + i % 26);
    for (Map<String, String> headers : List.of(Map.of("content-length", Integer.toString(big.length)), Map.<String, String>of())) {
      MuxStream s = client.open(fwd("m", "7", "/v1/echo", headers), false);
      s.write(big, 0, big.length);                           // blocks on credit: the agent reads as the model server takes
      s.finish();
      assertEquals(201, s.reply().get(10, TimeUnit.SECONDS).status(), headers.toString());
      assertTrue(java.util.Arrays.equals(big, s.inputStream().readAllBytes()), "the body came back whole with " + headers);
    }
    MuxStream shorter = client.open(fwd("m", "7", "/v1/echo", Map.of("content-length", "10")), false);
    shorter.write(new byte[4], 0, 4);
    shorter.finish();
    Messages.Reply refused = shorter.reply().get(10, TimeUnit.SECONDS);
    assertEquals(400, refused.status());
    assertEquals(ProblemCode.BAD_REQUEST, refused.error().code());
  }

  @Test void refusesWhatItsConfigDoesNotAllow() throws Exception {
    assertEquals(ProblemCode.PATH_NOT_ALLOWED, call(fwd("other", "8", "/v1/stream", Map.of())).error().code());
    assertEquals(ProblemCode.UNKNOWN_SERVICE, call(fwd("nope", "7", "/v1/echo", Map.of())).error().code());
    assertEquals(ProblemCode.UNKNOWN_JOB, call(fwd("m", "8", "/v1/echo", Map.of())).error().code(), "job of another service");
    assertEquals(ProblemCode.UNKNOWN_JOB, call(fwd("m", "12345", "/v1/echo", Map.of())).error().code(), "job it never submitted");
    Messages.Reply pending = call(fwd("m", "9", "/v1/echo", Map.of()));
    assertEquals(409, pending.status());
    assertEquals(ProblemCode.JOB_NOT_RUNNING, pending.error().code());
    assertEquals(ProblemCode.UNKNOWN_SERVICE, call(new Messages.Submit("nope", "t")).error().code());
    assertEquals(ProblemCode.UNKNOWN_JOB, call(new Messages.Cancel("12345")).error().code());
    assertEquals(ProblemCode.UNKNOWN_JOB, call(new Messages.Logs("m", "8", 10)).error().code(), "logs of another service's job");
    assertEquals(ProblemCode.UNKNOWN_JOB, call(new Messages.Logs("m", "12345", 10)).error().code());
    assertEquals(ProblemCode.UNKNOWN_SERVICE, call(new Messages.Logs("nope", "7", 10)).error().code());
    assertEquals(0, upstreamCalls.get(), "nothing refused reached the model server");
  }

  @Test void modelServerDownIs502() throws Exception {
    upstream.stop(0);
    Messages.Reply r = call(fwd("m", "7", "/v1/echo", Map.of("content-length", "0")));
    assertEquals(502, r.status());
    assertEquals(ProblemCode.UPSTREAM_ERROR, r.error().code());
  }

  @Test void gatewayResetAbortsTheUpstreamRequest() throws Exception {
    MuxStream s = client.open(new Messages.Forward("m", "7", "GET", "/v1/stream", Map.of(), "r"), true);
    assertEquals(200, s.reply().get(10, TimeUnit.SECONDS).status());
    InputStream in = s.inputStream();
    assertEquals("data: 0\n\n", new String(in.readNBytes(9), StandardCharsets.UTF_8));
    in.close();                                             // the HTTP client went away
    Throwable t = streamWriteFailure.get(10, TimeUnit.SECONDS);
    assertTrue(t instanceof IOException, "the model server saw its client disconnect: " + t);
  }

  /**
   * A model server flushing a token every millisecond: each flush used to become a frame of its own (300 tokens, 300
   * frames), and each frame wakes threads in the agent, sshd and the gateway. With a 50 ms minimum between a stream's
   * frames they arrive in a handful, every byte in order.
   */
  @Test void tokensOfAFastModelTravelInFewFrames() throws Exception {
    Frames got = framesOf("/v1/burst");
    assertEquals(tokens(BURST), got.text(), "every token, in order");
    assertTrue(got.count() <= 40, BURST + " tokens came in " + got.count() + " frames");
  }

  /**
   * A model server writing as fast as it can: the HTTP client reads it 4 KiB at a time, and each read used to leave
   * as a frame of its own. Within the minimum interval the reads now join into frames of up to 16 KiB.
   */
  @Test void aModelAtFullSpeedTravelsInLargeFrames() throws Exception {
    Frames got = framesOf("/v1/flood");
    assertEquals(tokens(FLOOD), got.text(), "every token, in order");
    int bytes = got.text().length();
    assertTrue(got.count() <= bytes / (8 * 1024), bytes + " bytes came in " + got.count() + " frames");
  }

  /** A forward's response as the gateway's end of the mux received it: its bytes and how many frames carried them. */
  private record Frames(String text, int count) {}

  private Frames framesOf(String path) throws Exception {
    MuxStream s = client.open(new Messages.Forward("m", "7", "GET", path, Map.of(), "r"), true);
    assertEquals(200, s.reply().get(10, TimeUnit.SECONDS).status());
    java.util.concurrent.Semaphore arrived = new java.util.concurrent.Semaphore(0);
    s.setListener(arrived::release);
    java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
    int frames = 0;
    while (true) {
      byte[] chunk;
      while ((chunk = s.poll()) != null) {
        frames++;
        got.write(chunk);
      }
      if (s.isInputFinished()) return new Frames(got.toString(StandardCharsets.UTF_8), frames);
      assertTrue(arrived.tryAcquire(10, TimeUnit.SECONDS), "the rest of the stream came");
    }
  }

  /** What the test model servers send: "data: i" events for i below n. */
  private static String tokens(int n) {
    StringBuilder expected = new StringBuilder();
    for (int i = 0; i < n; i++) expected.append("data: ").append(i).append("\n\n");
    return expected.toString();
  }

  /** Bytes held for the minimum interval go out when it ends, though the model server sends nothing more. */
  @Test void heldBytesGoOutWhileTheModelServerIsSilent() throws Exception {
    MuxStream s = client.open(new Messages.Forward("m", "7", "GET", "/v1/pair", Map.of(), "r"), true);
    assertEquals(200, s.reply().get(10, TimeUnit.SECONDS).status());
    assertEquals("data: a\n\ndata: b\n\n", new String(s.inputStream().readNBytes(18), StandardCharsets.UTF_8));
  }

  @Test void thousandsOfOpenStreamsShareAFewAgentThreads() throws Exception {
    // The agent used to hold a thread per open stream (4,887 threads at 5,000 streams); now a stream waiting for its
    // model costs no thread. A session that allows 2,000 streams, and 2,000 streams open at once through it.
    int n = 2_000;
    Limits many = new Limits(16 * 1024, Limits.DEFAULT.maxHeadBytes(), n, 16 * 1024, 0);
    SocketPairs pair = SocketPairs.open();
    try (MuxSession agentEnd = MuxSession.server(pair.b.getInputStream(), pair.b.getOutputStream(), many, "agent", agent::accept)
             .start("agent-session");
         MuxSession gatewayEnd = MuxSession.client(new BufferedInputStream(pair.a.getInputStream()), pair.a.getOutputStream(), many,
             "gw").start("gw-session")) {
      gatewayEnd.peerHello().get(5, TimeUnit.SECONDS);
      List<MuxStream> streams = new java.util.ArrayList<>();
      for (int i = 0; i < n; i++) streams.add(gatewayEnd.open(fwd("m", "7", "/v1/slow", Map.of("content-length", "0")), true));
      Await.until(java.time.Duration.ofSeconds(20), "all streams open at the model server", () -> slowOpen.get() == n);
      long others = Thread.getAllStackTraces().keySet().stream().filter(t -> !t.getName().startsWith("model-")).count();
      assertTrue(others <= 64, "threads besides the model server's with " + n + " streams open: " + others);
      slowRelease.countDown();
      for (MuxStream s : streams) {
        assertEquals(200, s.reply().get(10, TimeUnit.SECONDS).status());
        assertEquals("data: first\n\ndata: last\n\n", new String(s.inputStream().readAllBytes(), StandardCharsets.UTF_8));
      }
    }
  }

  @Test void probeReportsReadinessFromTheHealthPath() throws Exception {
    var ready = WireJson.convert(call(new Messages.Probe("m", "7")).result(), Messages.ProbeResult.class);
    assertTrue(ready.ready());
    healthStatus = 503;
    var loading = WireJson.convert(call(new Messages.Probe("m", "7")).result(), Messages.ProbeResult.class);
    assertFalse(loading.ready());
    assertEquals(503, loading.status());
    assertFalse(loading.timedOut(), "it answered");
    var pending = WireJson.convert(call(new Messages.Probe("m", "9")).result(), Messages.ProbeResult.class);
    assertFalse(pending.ready());
    assertTrue(pending.detail().contains("PENDING"));
  }

  /** A model server too busy to answer its health path within probe-timeout (1 s here): the check says it timed out. */
  @Test void aHealthCheckTheServerAnswersTooLateTimesOut() throws Exception {
    healthDelayMillis = 3000;
    var late = WireJson.convert(call(new Messages.Probe("m", "7")).result(), Messages.ProbeResult.class);
    assertFalse(late.ready());
    assertTrue(late.timedOut());
    assertEquals("health check timed out after 1000 ms", late.detail());
  }

  @Test void aProbeResultFromAnAgentOlderThanTimedOutDecodesAsNotTimedOut() {
    var old = WireJson.convert(WireJson.tree(java.util.Map.of("ready", false, "status", 0, "detail", "health check failed")),
        Messages.ProbeResult.class);
    assertEquals(new Messages.ProbeResult(false, 0, "health check failed", false), old);
  }

  @Test void logsOfAJobWithoutOutputYetAreEmpty() throws Exception {
    var logs = WireJson.convert(call(new Messages.Logs("m", "9", 10)).result(), Messages.LogsResult.class);
    assertEquals(new Messages.LogsResult("9", List.of(), false), logs);
  }

  @Test void listsOnlyItsOwnJobs() throws Exception {
    var list = WireJson.convert(call(new Messages.ListJobs()).result(), Messages.JobList.class);
    assertEquals(List.of("7", "8", "9"), list.jobs().stream().map(JobInfo::id).toList());
  }

}
