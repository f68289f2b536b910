package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.extension.TestWatcher;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;

/**
 * Three gateway nodes as one cluster (plain JVMs, one PostgreSQL, HAProxy from Debian with docker/haproxy.cfg), each
 * with its own SSH connection to the sandbox's login node, two services on real Slurm: requests through every node
 * and the balancer, limits across nodes, keys on every node, one squeue per poll interval, {@code kill -9} of the
 * node hosting a service, a rolling restart under load and a restart of the whole cluster. The tests run in order on
 * one cluster; each leaves all three nodes running.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
@Timeout(300)
class ClusterHpcIT {
  private static final Duration READY_WAIT = Duration.ofSeconds(180);
  private static final String PREFIX = "cluster-it-";
  private static final String MODEL = "mock-llm";
  private static final String SLOW = "slow";
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  private HpcSandbox sandbox;
  private String deployment;
  private ClusterOfThree cluster;
  /**
   * The user with 5 requests per month and its key (test 3), whose counter the whole-cluster restart must keep. A month,
   * not an hour: the windows are UTC calendar windows, and a run that crossed 16:00 found the hour's counter at 0.
   */
  private String limitedUser;
  private String limitedKey;

  /** A failed test shows the end of every node's log (the folder keeps them, and HAProxy's). */
  @RegisterExtension final TestWatcher logsOnFailure = new TestWatcher() {
    @Override public void testFailed(ExtensionContext context, Throwable cause) {
      if (cluster != null) System.err.println("cluster folder " + cluster.dir + "\n" + cluster.logs());
    }
  };

  @BeforeAll void startTheCluster() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
    byte[] b = new byte[3];
    new SecureRandom().nextBytes(b);
    deployment = PREFIX + HexFormat.of().formatHex(b);
    cluster = new ClusterOfThree(sandbox, deployment, """
        mock-llm { cluster = hpc, max-inflight-per-replica = 16 }
        slow { cluster = hpc, max-inflight-per-replica = 16 }
        """, "");
    try {
      cluster.start(MODEL, READY_WAIT);
      for (ClusterOfThree.Node n : cluster.nodes) n.process.awaitReady(SLOW, READY_WAIT);
    } catch (Throwable t) {
      System.err.println(cluster.logs());
      throw t;
    }
  }

  @AfterAll void stopTheCluster() throws Exception {
    if (cluster != null) cluster.close();
    if (sandbox != null) {
      for (String line : sandbox.slurm("squeue", "-h", "-u", sandbox.sshUser(), "-o", "%i|%j").split("\n")) {
        String[] f = line.trim().split("\\|");
        if (f.length == 2 && f[1].startsWith(deployment + ".")) sandbox.slurm("scancel", f[0]);
      }
    }
  }

  // ---------------------------------------------------------------- the data plane

  @Test @Order(1) void requestsSucceedThroughEveryNodeAndTheBalancerStreamingAndNot() {
    List<String> urls = new ArrayList<>();
    cluster.nodes.forEach(n -> urls.add(n.baseUrl()));
    urls.add(cluster.balancerUrl());
    for (String url : urls) {
      OpenAIClient client = CrashDrill.openai(url);
      String whole = CrashDrill.complete(client, MODEL, "hello " + url, 6, false);
      assertEquals(whole, CrashDrill.complete(client, MODEL, "hello " + url, 6, true), "streamed through " + url);
    }
  }

  // ---------------------------------------------------------------- users, keys and limits

  @Test @Order(2) void aKeyMadeOnOneNodeWorksOnTheOthersWithinASecondAndItsRevocationAtOnce() throws Exception {
    String user = newUser("{}", cluster.node(1));
    JsonNode key = admin("POST", cluster.node(1), "/admin/users/" + user + "/keys", "{\"name\":\"k\"}", 201);
    long made = System.nanoTime();
    String secret = key.get("key").asText();
    for (int i = 2; i <= 3; i++) {
      ClusterOfThree.Node n = cluster.node(i);
      Await.until(Duration.ofSeconds(5), "the key to work on " + n, () -> models(n.baseUrl(), secret), s -> s == 200);
      long took = System.nanoTime() - made;
      System.out.printf("KEY PROPAGATION node1 -> node%d: %.0f ms%n", i, took / 1e6);
      assertTrue(took < 1_000_000_000L, "usable on node" + i + " within 1 s, took " + took / 1_000_000 + " ms");
    }
    admin("DELETE", cluster.node(2), "/admin/keys/" + key.get("id").asText(), null, 200);
    for (ClusterOfThree.Node n : cluster.nodes) assertEquals(401, models(n.baseUrl(), secret), "revoked at once on " + n);
  }

  @Test @Order(3) void aRequestLimitHoldsExactlyAcrossTheNodes() throws Exception {
    String user = newUser("{\"requests\":{\"month\":5}}", cluster.node(1));
    String secret = admin("POST", cluster.node(2), "/admin/users/" + user + "/keys", "{\"name\":\"k\"}", 201).get("key").asText();
    awaitKeyOnEveryNode(secret);
    Map<Integer, Integer> statuses = parallel(20, i -> chat(cluster.node(1 + i % 3).baseUrl(), secret, MODEL, 2));
    assertEquals(Map.of(200, 5, 429, 15), statuses, "20 requests over 3 nodes against 5 per month");
    limitedUser = user;
    limitedKey = secret;
  }

  @Test @Order(4) void aConcurrencyLimitHoldsExactlyAcrossTheNodes() throws Exception {
    String user = newUser("{\"concurrent\":2}", cluster.node(3));
    String secret = admin("POST", cluster.node(1), "/admin/users/" + user + "/keys", "{\"name\":\"k\"}", 201).get("key").asText();
    awaitKeyOnEveryNode(secret);
    // slow generates a token every 200 ms: 10 tokens keep a request in flight for 2 s, longer than the burst takes.
    Map<Integer, Integer> statuses = parallel(9, i -> chat(cluster.node(1 + i % 3).baseUrl(), secret, SLOW, 10));
    assertEquals(Map.of(200, 2, 429, 7), statuses, "9 requests at once over 3 nodes against 2 in flight");
    Await.until(Duration.ofSeconds(10), "the user's requests to end", () -> admin("GET", cluster.node(2), "/admin/users/" + user,
        null, 200).at("/usage/in_flight").asInt(), n -> n == 0);
  }

  // ---------------------------------------------------------------- Slurm sees one gateway

  @Test @Order(5) void squeueRunsOncePerPollIntervalWithThreeNodesAndTwoServices() throws Exception {
    Duration window = Duration.ofSeconds(10);
    Instant from = Instant.now();
    Thread.sleep(window.toMillis());                   // a fixed wait: the test counts what happens in a time window
    Instant to = from.plus(window);
    long calls = sandbox.squeueCalls().stream().filter(t -> !t.isBefore(from) && t.isBefore(to)).count();
    System.out.printf("SQUEUE: %d calls in %d s (poll interval 1 s, 3 gateway nodes, 2 services on %s and %s, "
        + "6 agent processes)%n", calls, window.toSeconds(), cluster.hosting(MODEL), cluster.hosting(SLOW));
    assertTrue(calls >= 5 && calls <= 11, "one squeue per 1 s poll interval, not per node or service: " + calls + " in 10 s");
  }

  // ---------------------------------------------------------------- losing a node

  @Test @Order(6) void killingTheNodeHostingAServiceMovesItToASurvivorWithNothingResubmitted() throws Exception {
    ClusterOfThree.Node victim = cluster.hosting(MODEL);
    assertNotNull(victim, "some node hosts " + MODEL);
    ClusterOfThree.Node survivor = cluster.nodes.stream().filter(n -> n != victim).findFirst().orElseThrow();
    Map<String, String> before = jobs();
    assertEquals(2, before.size(), "one job per service: " + before);

    long killedAt;
    CrashDrill.FirstSuccess back;
    int failed;
    try (CrashDrill.Traffic traffic = new CrashDrill.Traffic(CrashDrill.openai(cluster.balancerUrl()), MODEL, 4)) {
      Await.until(Duration.ofSeconds(60), "20 requests through the balancer", traffic::ok, ok -> ok >= 20);
      int okBefore = traffic.ok();
      killedAt = System.nanoTime();
      victim.process.kill9();
      back = CrashDrill.firstSuccess(survivor.baseUrl(), MODEL, Duration.ofSeconds(90));
      Await.until(Duration.ofSeconds(30), "traffic to go on after the kill", traffic::ok, ok -> ok >= okBefore + 20);
      traffic.stopSending();
      traffic.close();
      failed = traffic.failed();
      System.out.printf("FAILOVER: kill -9 of %s -> a request sent at the kill served by %s after %s; %d requests failed "
          + "(in flight on the killed node), %d succeeded; errors %s%n", victim, survivor,
          CrashDrill.seconds(back.atNanos() - killedAt), failed, traffic.ok(), traffic.errors());
    }
    assertEquals(List.of(), back.failed(), "the survivor answered every request with 200");
    assertTrue(failed <= 4, "only the requests in flight on the killed node may fail (4 clients): " + failed);
    ClusterOfThree.Node host = Await.until(Duration.ofSeconds(60), MODEL + " to run on a survivor", () -> cluster.hosting(MODEL),
        n -> n != null && n != victim);
    System.out.printf("FAILOVER: %s now on %s%n", MODEL, host);
    assertEquals(before, jobs(), "Slurm runs the same jobs: nothing submitted again");
    for (String service : List.of(MODEL, SLOW)) {
      Await.until(Duration.ofSeconds(30), "no lease of " + service + " left counted", () -> admin("GET", survivor,
          "/admin/services/" + service, null, 200).path("in_flight").asInt(), n -> n == 0);
    }

    victim.launch();
    cluster.awaitReady(victim, READY_WAIT);
    assertEquals(before, jobs(), "the node's return submits nothing either");
  }

  @Test @Order(7) void theLeasesAndInFlightSlotsOfANodeThatDiedAreReleased() throws Exception {
    ClusterOfThree.Node service = cluster.hosting(SLOW);
    assertNotNull(service, "some node hosts " + SLOW);
    ClusterOfThree.Node victim = cluster.nodes.stream().filter(n -> n != service).findFirst().orElseThrow();
    String user = newUser("{\"concurrent\":10}", service);
    String secret = admin("POST", service, "/admin/users/" + user + "/keys", "{\"name\":\"k\"}", 201).get("key").asText();
    // Three generations of 30 s (150 tokens, one every 200 ms) through the victim: its edge holds their leases and
    // their user's slots, on actors that live elsewhere.
    ExecutorService pool = Executors.newFixedThreadPool(3);
    try {
      for (int i = 0; i < 3; i++) pool.submit(() -> chat(victim.baseUrl(), secret, SLOW, 150));
      Await.until(Duration.ofSeconds(30), "3 leases of " + SLOW + " held by " + victim, () -> admin("GET", service,
          "/admin/services/" + SLOW, null, 200).path("in_flight").asInt(), n -> n == 3);
      long killedAt = System.nanoTime();
      victim.process.kill9();
      Await.until(Duration.ofSeconds(25), "the dead node's leases to be released", () -> admin("GET", service,
          "/admin/services/" + SLOW, null, 200).path("in_flight").asInt(), n -> n == 0);
      long released = System.nanoTime() - killedAt;
      Await.until(Duration.ofSeconds(5), "the user's slots to be freed", () -> admin("GET", service, "/admin/users/" + user,
          null, 200).at("/usage/in_flight").asInt(), n -> n == 0);
      System.out.printf("DEPARTURE: kill -9 of %s -> its 3 leases on %s released after %s (the generations had 30 s to go)%n",
          victim, SLOW, CrashDrill.seconds(released));
      assertTrue(released < 25_000_000_000L, "released when the cluster removed the node, not when the generations ended");
    } finally {
      pool.shutdownNow();
    }
    victim.launch();
    cluster.awaitReady(victim, READY_WAIT);
  }

  @Test @Order(8) void aRollingRestartOfEveryNodeUnderLoadFailsNoRequest() throws Exception {
    Map<String, String> before = jobs();
    try (CrashDrill.Traffic traffic = new CrashDrill.Traffic(CrashDrill.openai(cluster.balancerUrl()), MODEL, 3)) {
      Await.until(Duration.ofSeconds(60), "traffic through the balancer", traffic::ok, ok -> ok >= 10);
      long started = System.nanoTime();
      for (ClusterOfThree.Node n : cluster.nodes) {
        ClusterOfThree.Node other = cluster.nodes.stream().filter(o -> o != n).findFirst().orElseThrow();
        int ups = cluster.balancerUps(n);
        n.process.close();                                   // SIGTERM: unready, drain, hand over, leave, exit
        // The upgrade procedure of docs/deploy-cluster.md: wait until the others no longer list it, start it, wait.
        Await.until(Duration.ofSeconds(30), n + " to have left", () -> cluster.members(other), m -> !m.containsKey(n.address()));
        n.launch();
        cluster.awaitReady(n, READY_WAIT);
        Await.until(Duration.ofSeconds(30), n + " to be Up for " + other, () -> cluster.members(other).get(n.address()),
            "Up"::equals);
        Await.until(Duration.ofSeconds(30), "HAProxy to put " + n + " back", () -> cluster.balancerUps(n), u -> u > ups);
      }
      traffic.close();
      System.out.printf("ROLLING RESTART: 3 nodes in %s under load: %d requests succeeded, %d failed %s%n",
          CrashDrill.seconds(System.nanoTime() - started), traffic.ok(), traffic.failed(), traffic.errors());
      assertEquals(0, traffic.failed(), "no request failed: " + traffic.errors());
      assertTrue(traffic.ok() > 30, "traffic flowed throughout: " + traffic.ok());
    }
    assertEquals(before, jobs(), "a rolling restart submits nothing");
  }

  @Test @Order(9) void restartingTheWholeClusterRecoversServicesUsersKeysAndCounters() throws Exception {
    Map<String, String> before = jobs();
    JsonNode users = admin("GET", cluster.node(1), "/admin/users", null, 200);
    Map<ClusterOfThree.Node, Integer> ups = new LinkedHashMap<>();
    for (ClusterOfThree.Node n : cluster.nodes) ups.put(n, cluster.balancerUps(n));
    for (ClusterOfThree.Node n : cluster.nodes) n.process.close();
    for (ClusterOfThree.Node n : cluster.nodes) n.launch();
    for (ClusterOfThree.Node n : cluster.nodes) cluster.awaitReady(n, READY_WAIT);
    for (ClusterOfThree.Node n : cluster.nodes) n.process.awaitReady(MODEL, READY_WAIT);
    // Ready on a node's own port is not yet routed: HAProxy puts a server back after its checks pass (rise 2), and a
    // burst sent before that gets HAProxy's own 503 (seen once: 10 x <NOSRV> 0.4 s before the first server was UP).
    for (ClusterOfThree.Node n : cluster.nodes) {
      Await.until(Duration.ofSeconds(30), "HAProxy to put " + n + " back", () -> cluster.balancerUps(n), u -> u > ups.get(n));
    }
    cluster.node(1).process.awaitReady(SLOW, READY_WAIT);

    assertEquals(before, jobs(), "the same jobs serve, nothing resubmitted");
    assertEquals(users.get("data"), admin("GET", cluster.node(2), "/admin/users", null, 200).get("data"), "every user");
    assertEquals(200, models(cluster.node(3).baseUrl(), EmbeddedStack.API_KEY));
    assertNotNull(limitedKey, "the request-limit test ran first");
    JsonNode limited = admin("GET", cluster.node(3), "/admin/users/" + limitedUser, null, 200);
    assertEquals(5, limited.at("/usage/requests/month").asInt(), "the month's counter came back exactly: " + limited);
    assertEquals(429, chat(cluster.node(2).baseUrl(), limitedKey, MODEL, 2), "the limit still holds after the restart");
    assertEquals(List.of(), CrashDrill.burst(CrashDrill.openai(cluster.balancerUrl()), MODEL, 10));
  }

  // ---------------------------------------------------------------- helpers

  /** Every job of this run's deployment Slurm lists: id → service. */
  private Map<String, String> jobs() throws Exception {
    Map<String, String> out = new LinkedHashMap<>();
    for (String line : sandbox.slurm("squeue", "-h", "-u", sandbox.sshUser(), "-o", "%i|%j|%T").split("\n")) {
      String[] f = line.trim().split("\\|");
      if (f.length == 3 && f[1].startsWith(deployment + ".")) out.put(f[0], f[2]);
    }
    return out;
  }

  private String newUser(String limits, ClusterOfThree.Node on) throws Exception {
    String id = "u" + System.nanoTime() % 1_000_000_000L;
    admin("POST", on, "/admin/users", "{\"id\":\"" + id + "\",\"limits\":" + limits + "}", 201);
    return id;
  }

  private static JsonNode admin(String method, ClusterOfThree.Node on, String path, String body, int expected) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(on.baseUrl() + path)).timeout(Duration.ofSeconds(30))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).header("Content-Type", "application/json");
    b.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    HttpResponse<String> r = HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
    assertEquals(expected, r.statusCode(), method + " " + path + " on " + on + ": " + r.body());
    return CrashDrill.JSON.readTree(r.body());
  }

  /**
   * A new key reaches the other nodes within a second (test 2), not at once: a burst sent the moment it is made could
   * meet a node that answers 401, which is not what the limit tests count. Listing models admits nothing and counts
   * against no limit.
   */
  private void awaitKeyOnEveryNode(String secret) throws Exception {
    for (ClusterOfThree.Node n : cluster.nodes) {
      Await.until(Duration.ofSeconds(5), "the key to work on " + n, () -> models(n.baseUrl(), secret), s -> s == 200);
    }
  }

  private static int models(String baseUrl, String key) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/v1/models")).timeout(Duration.ofSeconds(10))
        .header("Authorization", "Bearer " + key).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  private static int chat(String baseUrl, String key, String model, int maxTokens) {
    String body = "{\"model\":\"" + model + "\",\"max_tokens\":" + maxTokens + ",\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
    try {
      return HTTP.send(HttpRequest.newBuilder(URI.create(baseUrl + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
          .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
    } catch (Exception e) {
      return -1;
    }
  }

  /** {@code n} calls at once; how many answered with each status. */
  private static Map<Integer, Integer> parallel(int n, java.util.function.IntFunction<Integer> call) throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(n);
    try {
      List<CompletableFuture<Integer>> all = new ArrayList<>();
      for (int i = 0; i < n; i++) {
        int k = i;
        all.add(CompletableFuture.supplyAsync(() -> call.apply(k), pool));
      }
      Map<Integer, Integer> counts = new java.util.TreeMap<>();
      for (var f : all) counts.merge(f.get(), 1, Integer::sum);
      return counts;
    } finally {
      pool.shutdownNow();
    }
  }
}
