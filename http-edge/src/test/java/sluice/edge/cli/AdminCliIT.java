package sluice.edge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.edge.Gateway;

/**
 * {@code sluice admin} against a real gateway (local scheduler, agent over pipes, mock-llm): an admin creates a user
 * and a key, the key is used, the usage shows it, and the revoked key stops working.
 * The setup is a small copy of sluice.edge.EmbeddedStack, which is package-private there.
 */
@Timeout(180)
class AdminCliIT {
  static final String ADMIN_KEY = "admin-0123456789abcdef";
  static final ObjectMapper JSON = new ObjectMapper();
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static Gateway gateway;

  record Result(int exit, String out, String err) {
    JsonNode json() throws IOException { return JSON.readTree(out); }
  }

  @BeforeAll static void start() throws Exception {
    Path home = Path.of(System.getProperty("sluice.home", "..")).toAbsolutePath().normalize();
    if (!Files.isRegularFile(home.resolve("mock-llm/target/mock-llm.jar"))) {
      throw new IllegalStateException("mock-llm/target/mock-llm.jar is missing: run the end-to-end tests with mvn verify");
    }
    Path dir = Files.createTempDirectory("sluice-admin-it");
    Files.writeString(dir.resolve("agent.json"), """
        {"sluice-agent": {"state-dir": "agent", "local": {"kill-wait": "2s"}, "services": {"mock-llm": {
          "sbatch": "%s", "time-limit": "15", "health-path": "/health", "allowed-methods": ["GET", "POST"],
          "allowed-paths": ["/v1/chat/completions"], "environment": {"MOCK_LLM_ARGS": "--token-delay-ms 2"}}}}}"""
        .formatted(home.resolve("sbatch/mock-llm.sbatch")));
    Config over = ConfigFactory.parseString("""
        sluice {
          data-dir = "%s"
          http.port = 0
          management.port = %d
          admin.key = "%s"
          readiness.probe-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms, cancel-jobs-on-shutdown = on }
          services.mock-llm { cluster = local }
        }
        """.formatted(dir.resolve("data"), freePort(), ADMIN_KEY, dir.resolve("agent.json")));
    gateway = Gateway.start(ConfigFactory.load(over.withFallback(ConfigFactory.parseResourcesAnySyntax("application"))));
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
  }

  static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }

  static Result adminWithKey(String adminKey, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = AdminCli.run(args, new AdminCli.Context(Map.of("SLUICE_URL", gateway.baseUrl(), "SLUICE_ADMIN_KEY", adminKey),
        new PrintWriter(out), new PrintWriter(err), Clock.systemUTC(), HttpAdminTransport::new));
    return new Result(exit, out.toString(), err.toString());
  }

  static Result admin(String... args) { return adminWithKey(ADMIN_KEY, args); }

  static Result ok(String... args) {
    Result r = admin(args);
    assertEquals(0, r.exit(), "sluice admin " + String.join(" ", args) + ": " + r.err());
    return r;
  }

  /** A chat completion with {@code key}, retried while the model's first replica starts (503); the first other status. */
  static int chat(String key) throws Exception {
    HttpRequest req = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + key).header("Content-Type", "application/json")
        .timeout(Duration.ofSeconds(90))
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"mock-llm\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello\"}],\"max_tokens\":5}"))
        .build();
    return Await.until(Duration.ofSeconds(90), "an answer other than 503 (model not ready)",
        () -> HTTP.send(req, HttpResponse.BodyHandlers.discarding()).statusCode(), status -> status != 503);
  }

  @Test void anAdminCreatesAUserAndAKeyThatIsUsedCountedAndRevoked() throws Exception {
    assertEquals("alice", ok("users", "create", "alice", "--group", "staff", "--limit", "requests.minute=100",
        "--limit", "model:mock-llm:concurrent=2").json().path("id").asText());
    assertTrue(ok("users", "list").json().path("data").findValuesAsText("id").contains("alice"));
    assertEquals("alice", ok("users", "update", "alice", "--limit", "tokens.day=100000").json().path("id").asText());

    Result created = ok("keys", "create", "alice", "--name", "it", "--expires-in", "1d", "--model", "mock-llm");
    assertTrue(created.err().contains("shown only this once"), created.err());
    String keyId = created.json().path("id").asText();
    String secret = created.json().path("key").asText();
    assertTrue(keyId.startsWith("key_"), created.out());
    assertTrue(secret.startsWith("sk-"), created.out());

    assertEquals(200, chat(secret));

    // usage is recorded once the request settles
    JsonNode usage = Await.until(Duration.ofSeconds(30), "alice's usage record",
        () -> ok("usage", "--user", "alice", "--model", "mock-llm").json(), u -> !u.path("data").isEmpty());
    assertEquals(1, usage.path("data").size(), usage.toPrettyString());
    String csv = ok("usage", "--user", "alice", "--csv").out();
    assertEquals(2, csv.lines().count(), csv);
    assertTrue(csv.contains("alice"), csv);

    assertTrue(ok("keys", "revoke", keyId).json().hasNonNull("revoked_at"));
    assertEquals(401, chat(secret));
  }

  @Test void anUnknownUserIsRefusedWithTheGatewaysCode() {
    Result r = admin("users", "get", "nobody");
    assertEquals(1, r.exit());
    assertTrue(r.err().startsWith("sluice admin: ") && r.err().contains("(user_not_found, HTTP 404)"), r.err());
  }

  @Test void aWrongAdminKeyIsRefused() {
    Result r = adminWithKey("not-the-admin-key-0123", "users", "list");
    assertEquals(1, r.exit());
    assertTrue(r.err().contains("HTTP 401)"), r.err());
  }
}
