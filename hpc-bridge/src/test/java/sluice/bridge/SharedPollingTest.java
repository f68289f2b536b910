package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.Socket;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.WireJson;
import sluice.core.cluster.JobSnapshot;
import sluice.core.tunnel.TunnelObserver;

/**
 * slurmctld must see one job listing per poll interval per cluster, however many services poll it. The peer here is a
 * protocol-level stand-in for the agent that only counts the calls it gets (the real agent and Slurm are covered by
 * the *HpcIT tests); the unit under test is the gateway's sharing of listings.
 */
class SharedPollingTest {
  private final AtomicInteger listings = new AtomicInteger();
  /** The gateway's time: it moves only when a test says so. */
  private final AtomicLong nanos = new AtomicLong();
  private final ExecutorService blocking = Executors.newCachedThreadPool();
  private final List<AutoCloseable> open = new ArrayList<>();

  @AfterEach void close() throws Exception {
    for (AutoCloseable c : open) c.close();
    blocking.shutdownNow();
  }

  private AgentConnection countingAgent() throws IOException {
    SocketPair pair = SocketPair.open(open);
    Socket client = pair.client();
    Socket server = pair.server();
    Banner.write(server.getOutputStream());
    Messages.JobInfo job = new Messages.JobInfo("7", "svc", "dep.0011223344556677", Messages.JobState.RUNNING, "n1",
        Instant.EPOCH, Instant.EPOCH, null, 3600L, "None", null);
    MuxSession.server(server.getInputStream(), server.getOutputStream(), Limits.DEFAULT, "counting-agent", stream -> {
      try {
        if (stream.call() instanceof Messages.ListJobs) {
          listings.incrementAndGet();
          stream.sendReply(Messages.Reply.ok(WireJson.tree(new Messages.JobList(List.of(job)))), true);
        } else {
          stream.sendReply(Messages.Reply.ok(WireJson.tree(job)), true);
        }
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }).start("counting-agent");
    return AgentConnection.handshake("counting", client.getInputStream(), client.getOutputStream(), Limits.DEFAULT,
        Duration.ofSeconds(10), () -> { });
  }

  private BridgeClusterGateway gateway(Duration reuse) throws IOException {
    AgentConnection conn = countingAgent();
    AgentLink link = new AgentLink("c", observer -> conn, blocking, Duration.ofMillis(100), Duration.ofSeconds(1),
        Duration.ofSeconds(5), TunnelObserver.NONE);
    BridgeClusterGateway g = new BridgeClusterGateway("c", "dep", link, ForkJoinPool.commonPool(),
        new BridgeClusterGateway.Timeouts(Duration.ofSeconds(10), Duration.ofSeconds(10), Duration.ZERO), reuse,
        nanos::get);
    open.add(g);
    return g;
  }

  private static List<JobSnapshot> poll(BridgeClusterGateway g) throws Exception {
    return g.jobs().toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @Test void manyServicesPollingWithinOneIntervalShareOneListing() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofSeconds(30));
    List<CompletableFuture<List<JobSnapshot>>> at = new ArrayList<>();
    for (int service = 0; service < 20; service++) at.add(g.jobs().toCompletableFuture());   // all at once
    for (var f : at) assertEquals("7", f.get(10, TimeUnit.SECONDS).get(0).jobId());
    for (int service = 0; service < 20; service++) poll(g);                                   // and one after another
    assertEquals(1, listings.get(), "forty polls inside the interval: one listing");

    g.submit("svc", "dep.8899aabbccddeeff").toCompletableFuture().get(10, TimeUnit.SECONDS);
    poll(g);
    assertEquals(2, listings.get(), "after a submit the next poll sees Slurm's answer, not the listing from before");
  }

  private void timePasses(Duration d) {
    nanos.addAndGet(d.toNanos());
  }

  @Test void aListingOlderThanTheIntervalIsNotReused() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofMillis(500));
    poll(g);
    assertEquals(1, listings.get());
    timePasses(Duration.ofMillis(600));
    poll(g);
    poll(g);
    assertEquals(2, listings.get());
    timePasses(Duration.ofMillis(600));
    poll(g);
    assertEquals(3, listings.get());
  }

  @Test void aListingIsReusedUntilItIsExactlyAsOldAsTheInterval() throws Exception {
    BridgeClusterGateway g = gateway(Duration.ofMillis(500));
    poll(g);
    timePasses(Duration.ofMillis(499));
    poll(g);
    assertEquals(1, listings.get(), "499 ms old: reused");
    timePasses(Duration.ofMillis(1));
    poll(g);
    assertEquals(2, listings.get(), "500 ms old: listed again");
  }
}
