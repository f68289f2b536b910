package sluice.edge.dashboard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.ConfigFactory;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.SinkQueueWithCancel;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import sluice.agent.testing.Await;
import sluice.core.job.ReplicaPhase;
import sluice.core.service.ServiceStatus;
import sluice.core.tunnel.Tunnels;
import sluice.persistence.usage.TrafficMinute;
import sluice.persistence.usage.UserTokens;

/**
 * One feed for all browsers: the usage table is queried only while someone watches, a state event goes out only when
 * something changed and reaches every browser, and a browser that connects late gets the latest state at once.
 */
class DashboardFeedTest {
  static final ObjectMapper JSON = new ObjectMapper();
  ActorSystem<Void> system;                                          // one per test: one feed per node
  ExecutorService blocking;

  @BeforeEach void start() {
    system = ActorSystem.create(Behaviors.empty(), "dashboard-feed-test",
        ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.defaultReference()));
    blocking = Executors.newSingleThreadExecutor();
  }

  @AfterEach void stop() {
    system.terminate();
    blocking.shutdownNow();
  }

  /** The services and usage table a feed sees, counting how often it asks. */
  static final class FakeSources implements DashboardFeed.Sources {
    final AtomicReference<List<ServiceStatus>> services = new AtomicReference<>(List.of(JobEventsTest.service("llama")));
    final AtomicInteger looks = new AtomicInteger();
    final AtomicInteger queries = new AtomicInteger();
    final AtomicInteger failuresLeft = new AtomicInteger();

    @Override public CompletionStage<List<ServiceStatus>> statuses() {
      looks.incrementAndGet();
      if (failuresLeft.getAndDecrement() > 0) return CompletableFuture.failedFuture(new IllegalStateException("test failure"));
      return CompletableFuture.completedFuture(services.get());
    }

    @Override public List<String> serviceIds() { return List.of("llama"); }

    @Override public List<TrafficMinute> traffic(Instant from, Instant to) {
      queries.incrementAndGet();
      return List.of(new TrafficMinute("llama", to.minusMillis(1).truncatedTo(ChronoUnit.MINUTES), 7, 1, 120.0));
    }

    @Override public List<UserTokens> topUsers(Instant from, Instant to, int limit) { return List.of(new UserTokens("alice", 99, 7)); }
  }

  private DashboardFeed feed(FakeSources sources) {
    Tunnels none = Tunnels.start(system, Map.of(), Duration.ofMinutes(1), Clock.systemUTC());
    TunnelBoard board = TunnelBoard.start(system, none, Duration.ofSeconds(5), Clock.systemUTC());
    return DashboardFeed.start(system, sources, board, blocking,
        new DashboardSettings(Duration.ofMillis(50), Duration.ofMillis(100)), Duration.ofMinutes(1), Clock.systemUTC());
  }

  /** One SSE event: its name and its JSON. */
  record Event(String name, JsonNode data) {}

  private static Event next(SinkQueueWithCancel<ByteString> client) throws Exception {
    Optional<ByteString> frame = client.pull().toCompletableFuture().get(10, TimeUnit.SECONDS);
    String[] lines = frame.orElseThrow().utf8String().split("\n");
    assertTrue(lines[0].startsWith("event: ") && lines[1].startsWith("data: "), String.join("\\n", lines));
    return new Event(lines[0].substring(7), JSON.readTree(lines[1].substring(6)));
  }

  private SinkQueueWithCancel<ByteString> connect(DashboardFeed feed) {
    return feed.stream().runWith(Sink.queue(), system);
  }

  @Test void theUsageTableIsQueriedOnlyWhileSomeoneWatches() throws Exception {
    FakeSources sources = new FakeSources();
    DashboardFeed feed = feed(sources);
    Await.until(Duration.ofSeconds(10), "ten looks at the services (five traffic intervals)", () -> sources.looks.get() >= 10);
    assertEquals(0, sources.queries.get(), "nobody watches: no queries");

    SinkQueueWithCancel<ByteString> client = connect(feed);
    Event first = next(client);
    Event second = next(client);
    assertEquals(List.of("state", "traffic"), List.of(first.name(), second.name()), "both at once on connect");
    assertEquals(7, second.data().at("/models/0/total_requests").asLong());
    assertEquals("alice", second.data().at("/top_users/users/0/user").asText());
    assertEquals("traffic", next(client).name(), "then every traffic interval");

    client.cancel();
    Await.until(Duration.ofSeconds(10), "the browser to be gone", () -> feed.watchers() == 0);
    int queried = sources.queries.get();
    int looked = sources.looks.get();
    Await.until(Duration.ofSeconds(10), "ten more looks", () -> sources.looks.get() >= looked + 10);
    assertTrue(sources.queries.get() <= queried + 1, "at most the query already under way when the browser left");
  }

  @Test void aStateEventGoesToEveryBrowserOnlyWhenSomethingChanged() throws Exception {
    FakeSources sources = new FakeSources();
    DashboardFeed feed = feed(sources);
    Await.until(Duration.ofSeconds(10), "the feed to settle (this node's tunnels reported)", () -> sources.looks.get() >= 10);
    SinkQueueWithCancel<ByteString> a = connect(feed);
    SinkQueueWithCancel<ByteString> b = connect(feed);
    Await.until(Duration.ofSeconds(10), "two browsers", () -> feed.watchers() == 2);
    for (var client : List.of(a, b)) {
      Event state = next(client);
      assertEquals("state", state.name());
      assertEquals("llama", state.data().at("/services/0/service").asText());
    }

    int looked = sources.looks.get();
    Await.until(Duration.ofSeconds(10), "ten looks at the same state", () -> sources.looks.get() >= looked + 10);
    sources.services.set(List.of(JobEventsTest.service("llama", JobEventsTest.replica("42", ReplicaPhase.PENDING, null, "Priority"))));

    for (var client : List.of(a, b)) {
      Event changed = nextState(client);
      assertEquals("42", changed.data().at("/services/0/replicas/0/job_id").asText(), "no state event came for the unchanged looks");
      assertEquals("pending", changed.data().at("/events/0/to").asText());
      assertTrue(changed.data().at("/services/0/replicas/0/time_left_seconds").isMissingNode(), "the page counts time down itself");
    }

    SinkQueueWithCancel<ByteString> late = connect(feed);
    assertEquals("42", next(late).data().at("/services/0/replicas/0/job_id").asText(), "a late browser gets the latest state at once");
    for (var client : List.of(a, b, late)) client.cancel();
  }

  @Test void aFailedLookIsSkippedAndTheFeedGoesOn() throws Exception {
    FakeSources sources = new FakeSources();
    sources.failuresLeft.set(3);
    DashboardFeed feed = feed(sources);
    Await.until(Duration.ofSeconds(10), "the failed looks and then some", () -> sources.looks.get() >= 6);

    SinkQueueWithCancel<ByteString> client = connect(feed);
    assertEquals("llama", nextState(client).data().at("/services/0/service").asText());
    client.cancel();
  }

  /** The next state event (traffic events come in between). */
  private static Event nextState(SinkQueueWithCancel<ByteString> client) throws Exception {
    for (Event e = next(client); ; e = next(client)) if (e.name().equals("state")) return e;
  }
}
