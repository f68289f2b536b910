package sluice.edge;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.File;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;
import sluice.persistence.testing.TestDatabase;

/**
 * Three gateway JVMs as one Pekko cluster on one PostgreSQL database, each with its own SSH connection to the
 * sandbox's login node, and Debian's HAProxy in front of them with the shipped {@code docker/haproxy.cfg}: the
 * topology of docs/deploy-cluster.md as plain processes on loopback.
 */
final class ClusterOfThree implements AutoCloseable {
  static final int NODES = 3;
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(5)).build();

  /** One node: its ports and its process (replaced by {@link #restart}). */
  static final class Node {
    final int index;
    final int http;
    final int management;
    final int artery;
    final Path config;
    GatewayProcess process;
    private int launches;

    Node(int index, int http, int management, int artery, Path config) {
      this.index = index;
      this.http = http;
      this.management = management;
      this.artery = artery;
      this.config = config;
    }

    String baseUrl() { return "http://127.0.0.1:" + http; }

    String address() { return "pekko://sluice@127.0.0.1:" + artery; }

    GatewayProcess launch() throws IOException {
      launches++;
      process = new GatewayProcess(config, config.getParent().resolve("node" + index + "-" + launches + ".log"), http).launch();
      return process;
    }

    @Override public String toString() { return "node" + index + " (" + baseUrl() + ", " + address() + ")"; }
  }

  final Path dir;
  final List<Node> nodes = new ArrayList<>();
  final int balancerPort;
  private Process haproxy;

  /**
   * Writes the three nodes' configs ({@code services} is the body of {@code sluice.services}) and the shared database;
   * starts nothing.
   */
  ClusterOfThree(HpcSandbox sandbox, String deployment, String services, String extra) throws IOException {
    dir = Files.createTempDirectory("sluice-cluster");
    String database = TestDatabase.POSTGRES.hocon(dir.resolve("db"));
    int[] artery = new int[NODES];
    for (int i = 0; i < NODES; i++) artery[i] = EmbeddedStack.freePort();
    for (int i = 0; i < NODES; i++) {
      int http = EmbeddedStack.freePort();
      int management = EmbeddedStack.freePort();
      Path conf = CrashDrill.writeConfig(dir, """
          sluice {
            deployment = "%s"
            data-dir = "%s"
            http { port = %d, sse-keep-alive = 300ms, sse-commit-after = 400ms, connections.max-per-address = 0 }
            management.port = %d
            admin.key = "%s"
            auth.api-keys = [{ name = "test", key = "%s" }]
            readiness.probe-interval = 300ms
            cluster {
              port = %d
              seed-nodes = ["127.0.0.1:%d", "127.0.0.1:%d"]
              stable-after = 5s
              unready-delay = 3s
            }
            %s
            services { %s }
            %s
          }
          """.formatted(deployment, dir.resolve("data-" + (i + 1)), http, management, EmbeddedStack.ADMIN_KEY,
          EmbeddedStack.API_KEY, artery[i], artery[0], artery[1], EmbeddedStack.hpcCluster(sandbox, false), services, extra)
          + database);
      Path named = dir.resolve("node" + (i + 1) + ".conf");
      Files.move(conf, named);
      nodes.add(new Node(i + 1, http, management, artery[i], named));
    }
    balancerPort = EmbeddedStack.freePort();
  }

  Node node(int index) { return nodes.get(index - 1); }

  /** Starts every node and HAProxy; waits until each node is ready and {@code service} serves through each. */
  void start(String service, Duration timeout) throws Exception {
    for (Node n : nodes) n.launch();
    for (Node n : nodes) awaitReady(n, timeout);
    for (Node n : nodes) n.process.awaitReady(service, timeout);
    startBalancer();
  }

  /** Management's {@code /ready} of a node answers 200 (the load balancer's check). */
  void awaitReady(Node n, Duration timeout) throws Exception {
    try {
      Await.ignoring(IOException.class).until(timeout, n + " to be ready", () -> {
        if (!n.process.isAlive()) throw new AssertionError(n + " exited with " + n.process.exitCode());
        return get("http://127.0.0.1:" + n.management + "/ready").statusCode();
      }, status -> status == 200);
    } catch (AssertionError e) {
      throw new AssertionError(e.getMessage() + "\n" + n.process.logTail(60), e);
    }
  }

  void startBalancer() throws Exception {
    List<String> cmd = List.of("haproxy", "-db", "-f", EmbeddedStack.home().resolve("docker/haproxy.cfg").toString());
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
        .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")))
        .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve("haproxy.log").toFile()));
    Map<String, String> env = pb.environment();
    env.put("SLUICE_LISTEN", "127.0.0.1:" + balancerPort);
    for (Node n : nodes) {
      env.put("SLUICE_NODE" + n.index, "127.0.0.1:" + n.http);
      env.put("SLUICE_NODE" + n.index + "_MGMT", Integer.toString(n.management));
    }
    haproxy = pb.start();
    // Every server is marked up after its checks pass (rise 2, a second apart).
    Await.ignoring(IOException.class).until(Duration.ofSeconds(30), "HAProxy to route to a ready node", () -> {
      if (!haproxy.isAlive()) throw new AssertionError("haproxy exited: " + Files.readString(dir.resolve("haproxy.log")));
      return get(balancerUrl() + "/v1/models").statusCode();
    }, status -> status == 200 || status == 401);
  }

  String balancerUrl() { return "http://127.0.0.1:" + balancerPort; }

  /** How often HAProxy has logged {@code n}'s server as back UP (it logs every change of a server's state). */
  int balancerUps(Node n) throws IOException {
    String up = "Server sluice_gateways/node" + n.index + " is UP";
    try (var lines = Files.lines(dir.resolve("haproxy.log"))) {
      return (int) lines.filter(l -> l.contains(up)).count();
    }
  }

  /** The members a node sees, by address, with their status ({@code GET /cluster/members}). */
  Map<String, String> members(Node seenFrom) throws Exception {
    JsonNode m = CrashDrill.JSON.readTree(get("http://127.0.0.1:" + seenFrom.management + "/cluster/members").body());
    java.util.TreeMap<String, String> out = new java.util.TreeMap<>();
    for (JsonNode member : m.path("members")) out.put(member.path("node").asText(), member.path("status").asText());
    return out;
  }

  /**
   * The shards a node hosts in a region ({@code GET /cluster/shards/{region}} lists shard ids and entity counts).
   */
  List<String> shards(Node n, String region) throws Exception {
    JsonNode shards = CrashDrill.JSON.readTree(get("http://127.0.0.1:" + n.management + "/cluster/shards/" + region).body());
    List<String> out = new ArrayList<>();
    for (JsonNode s : shards.path("regions")) if (s.path("numEntities").asInt() > 0) out.add(s.path("shardId").asText());
    return out;
  }

  /**
   * The live node hosting {@code service}'s actor: the one whose Service region holds its shard (Pekko's default shard
   * of an entity: |hashCode| mod number-of-shards, 1000), or null while no node does.
   */
  Node hosting(String service) throws Exception {
    String shard = Integer.toString(Math.abs(service.hashCode()) % 1000);
    for (Node n : nodes) {
      try {
        if (n.process.isAlive() && shards(n, "Service").contains(shard)) return n;
      } catch (IOException e) {
        // a node starting or stopping: not hosting
      }
    }
    return null;
  }

  static HttpResponse<String> get(String url) throws IOException, InterruptedException {
    return HTTP.send(HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofSeconds(10)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  String logs() {
    StringBuilder out = new StringBuilder();
    for (Node n : nodes) if (n.process != null) out.append(n.process.logTail(60)).append('\n');
    return out.toString();
  }

  @Override public void close() throws Exception {
    for (Node n : nodes) if (n.process != null) n.process.close();
    if (haproxy != null) {
      haproxy.destroy();
      if (!haproxy.waitFor(10, TimeUnit.SECONDS)) haproxy.destroyForcibly();
    }
  }
}
