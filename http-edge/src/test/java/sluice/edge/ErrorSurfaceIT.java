package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * Every refusal a client or an operator can meet, as the client sees it: HTTP status, OpenAI error {@code type},
 * {@code code} and {@code param}, and the headers that tell it what to do (Retry-After, WWW-Authenticate, Allow,
 * x-ratelimit-*). Written against the gateway before its refusals became typed, so that the typed version is held to
 * the same answers. Runs on the embedded stack; every case is checked and all mismatches are reported together.
 */
@Timeout(180)
class ErrorSurfaceIT {
  static Path dir;
  static Gateway gateway;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  static final String KEY = EmbeddedStack.API_KEY;
  static final String ADMIN = EmbeddedStack.ADMIN_KEY;

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-errors");
    EmbeddedStack.writeAgentConfig(dir);
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        sluice.services.slow.min-replicas = 0
        sluice.usage.flush-interval = 200ms
        sluice.tunnel-sample-interval = 500ms
        sluice.clusters.local.ping-timeout = 2s
        sluice.http.connections.body-timeout = 2s
        """));
    EmbeddedStack.awaitReady(gateway, "mock-llm");
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
  }

  /** A request and the refusal it must get. {@code header} (name=value, value may be "*") must be on the response. */
  record Case(String name, String method, String path, String auth, String body, int status, String type, String code,
              String param, List<String> headers) {
    Case(String name, String method, String path, String auth, String body, int status, String type, String code, String param) {
      this(name, method, path, auth, body, status, type, code, param, List.of());
    }
  }

  static final String INVALID = "invalid_request_error";
  static final String SERVER = "server_error";
  static final String CHAT = "/v1/chat/completions";

  static String bearer(String key) { return "Bearer " + key; }

  static String chat(String model) {
    return "{\"model\":\"" + model + "\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}";
  }

  HttpResponse<String> send(Case c) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + c.path()))
        .method(c.method(), c.body() == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(c.body()));
    if (c.auth() != null) b.header("Authorization", c.auth());
    return http.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  static HttpResponse<String> admin(String method, String path, String body) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).header("Authorization", bearer(ADMIN))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode adminOk(String method, String path, String body) throws Exception {
    var r = admin(method, path, body);
    assertTrue(r.statusCode() / 100 == 2, method + " " + path + ": " + r.statusCode() + " " + r.body());
    return JSON.readTree(r.body());
  }

  /** Checks every case; returns one line per mismatch. */
  List<String> check(List<Case> cases) throws Exception {
    List<String> mismatches = new ArrayList<>();
    for (Case c : cases) {
      HttpResponse<String> r = send(c);
      String where = c.name() + " (" + c.method() + " " + c.path() + "): ";
      if (r.statusCode() != c.status()) {
        mismatches.add(where + "status " + r.statusCode() + " instead of " + c.status() + ": " + r.body());
        continue;
      }
      JsonNode error;
      try {
        error = JSON.readTree(r.body()).path("error");
      } catch (Exception e) {
        mismatches.add(where + "not JSON: " + r.body());
        continue;
      }
      if (!r.headers().firstValue("content-type").orElse("").startsWith("application/json")) {
        mismatches.add(where + "content-type " + r.headers().firstValue("content-type").orElse("(none)"));
      }
      if (!c.type().equals(error.path("type").asText())) mismatches.add(where + "type " + error.path("type") + " instead of " + c.type());
      if (!c.code().equals(error.path("code").asText())) mismatches.add(where + "code " + error.path("code") + " instead of " + c.code());
      String param = error.path("param").isNull() ? null : error.path("param").asText();
      if (c.param() == null ? param != null : !c.param().equals(param)) {
        mismatches.add(where + "param " + param + " instead of " + c.param());
      }
      if (error.path("message").asText().isBlank()) mismatches.add(where + "no message");
      for (String h : c.headers()) {
        String name = h.substring(0, h.indexOf('='));
        String value = h.substring(h.indexOf('=') + 1);
        var got = r.headers().firstValue(name);
        if (got.isEmpty() || (!value.equals("*") && !value.equals(got.get()))) {
          mismatches.add(where + "header " + name + " is " + got.orElse("(missing)") + " instead of " + value);
        }
      }
      if (r.headers().firstValue("x-request-id").isEmpty()) mismatches.add(where + "no x-request-id");
    }
    return mismatches;
  }

  @Test void theOpenAiApiRefusesWithTheSameStatusTypeCodeAndParamAsBefore() throws Exception {
    String limited = "errors-limited";
    // A day's window, not a minute's: the two requests below must fall into one window (UTC calendar windows).
    adminOk("POST", "/admin/users", "{\"id\":\"" + limited + "\",\"limits\":{\"requests\":{\"day\":1}}}");
    String limitedKey = adminOk("POST", "/admin/users/" + limited + "/keys", "{\"name\":\"k\"}").get("key").asText();
    String onlySlow = adminOk("POST", "/admin/users/" + limited + "/keys", "{\"models\":[\"slow\"]}").get("key").asText();
    JsonNode revoked = adminOk("POST", "/admin/users/" + limited + "/keys", "{}");
    adminOk("DELETE", "/admin/keys/" + revoked.get("id").asText(), null);
    String big = "{\"model\":\"mock-llm\",\"messages\":[{\"role\":\"user\",\"content\":\"" + "x".repeat(70_000) + "\"}]}";

    List<Case> cases = List.of(
        new Case("no key", "POST", CHAT, null, chat("mock-llm"), 401, INVALID, "invalid_api_key", null, List.of("www-authenticate=Bearer")),
        new Case("not bearer", "POST", CHAT, "Basic dXNlcjpwYXNz", chat("mock-llm"), 401, INVALID, "invalid_api_key", null),
        new Case("wrong key", "POST", CHAT, bearer("sk-wrong-0000000000000000"), chat("mock-llm"), 401, INVALID, "invalid_api_key", null,
            List.of("www-authenticate=Bearer")),
        new Case("revoked key", "POST", CHAT, bearer(revoked.get("key").asText()), chat("mock-llm"), 401, INVALID, "key_revoked", null,
            List.of("www-authenticate=Bearer")),
        new Case("key without the model", "POST", CHAT, bearer(onlySlow), chat("mock-llm"), 403, INVALID, "model_not_allowed", "model"),
        new Case("model listing of a key without the model", "GET", "/v1/models/mock-llm", bearer(onlySlow), null, 403, INVALID,
            "model_not_allowed", "model"),
        new Case("unknown model listed", "GET", "/v1/models/nope", bearer(KEY), null, 404, INVALID, "model_not_found", "model"),
        new Case("not JSON", "POST", CHAT, bearer(KEY), "{not json", 400, INVALID, "invalid_json", null),
        new Case("not an object", "POST", CHAT, bearer(KEY), "[1,2]", 400, INVALID, "invalid_json", null),
        new Case("no model", "POST", CHAT, bearer(KEY), "{\"messages\":[]}", 400, INVALID, "missing_model", "model"),
        new Case("unknown model", "POST", CHAT, bearer(KEY), chat("nope"), 404, INVALID, "model_not_found", "model"),
        new Case("stream not boolean", "POST", CHAT, bearer(KEY), "{\"model\":\"mock-llm\",\"stream\":\"yes\"}", 400, INVALID,
            "invalid_type", "stream"),
        new Case("stream_options not object", "POST", CHAT, bearer(KEY), "{\"model\":\"mock-llm\",\"stream\":true,\"stream_options\":1}",
            400, INVALID, "invalid_type", "stream_options"),
        new Case("include_usage not boolean", "POST", CHAT, bearer(KEY),
            "{\"model\":\"mock-llm\",\"stream\":true,\"stream_options\":{\"include_usage\":\"x\"}}", 400, INVALID, "invalid_type",
            "stream_options.include_usage"),
        new Case("body too large", "POST", CHAT, bearer(KEY), big, 413, INVALID, "request_too_large", null),
        new Case("pass-through path without a model", "POST", "/v1/rerank", bearer(KEY), "{}", 404, INVALID, "unknown_url", null),
        new Case("pass-through path the agent refuses", "POST", "/v1/rerank", bearer(KEY), "{\"model\":\"mock-llm\"}", 403, INVALID,
            "endpoint_not_allowed", null),
        new Case("path with a dot segment", "POST", "/v1/.hidden", bearer(KEY), chat("mock-llm"), 404, INVALID, "unknown_url", null),
        new Case("wrong method on models", "DELETE", "/v1/models", bearer(KEY), null, 405, INVALID, "method_not_allowed", null,
            List.of("allow=GET")),
        new Case("POST on models", "POST", "/v1/models", bearer(KEY), chat("mock-llm"), 405, INVALID, "method_not_allowed", null,
            List.of("allow=GET")),
        new Case("PUT on a model", "PUT", "/v1/models/mock-llm", bearer(KEY), "{}", 405, INVALID, "method_not_allowed", null,
            List.of("allow=GET")),
        new Case("GET on chat", "GET", CHAT, bearer(KEY), null, 405, INVALID, "method_not_allowed", null, List.of("allow=POST")),
        new Case("data after the JSON body", "POST", CHAT, bearer(KEY), chat("mock-llm") + " trailing", 400, INVALID, "invalid_json",
            null),
        new Case("a second JSON value", "POST", CHAT, bearer(KEY), chat("mock-llm") + "{}", 400, INVALID, "invalid_json", null),
        new Case("the model given twice", "POST", CHAT, bearer(KEY), chat("mock-llm").replace("{", "{\"model\":\"slow\","), 400,
            INVALID, "invalid_json", "model"),
        new Case("max_tokens near 2^63", "POST", CHAT, bearer(KEY), chat("mock-llm").replace("\"max_tokens\":4",
            "\"max_tokens\":9223372036854775807"), 400, INVALID, "integer_above_max_value", "max_tokens"),
        new Case("max_completion_tokens beyond a long", "POST", CHAT, bearer(KEY), chat("mock-llm").replace("{",
            "{\"max_completion_tokens\":99999999999999999999999,"), 400, INVALID, "integer_above_max_value", "max_completion_tokens"),
        new Case("max_tokens above 2^31 - 1", "POST", CHAT, bearer(KEY), chat("mock-llm").replace("\"max_tokens\":4",
            "\"max_tokens\":2147483648"), 400, INVALID, "integer_above_max_value", "max_tokens"),
        new Case("unknown top-level path", "GET", "/nowhere", null, null, 404, INVALID, "unknown_url", null),
        new Case("a model that never becomes ready", "POST", CHAT, bearer(KEY), chat("cold"), 503, SERVER, "model_not_ready", null,
            List.of("retry-after=*")));
    // The first request of the limited key passes; the one right after it is over its one request per day.
    assertEquals(200, send(new Case("", "POST", CHAT, bearer(limitedKey), chat("mock-llm"), 200, "", "", null)).statusCode());
    List<String> mismatches = new ArrayList<>(check(List.of(new Case("over the request rate", "POST", CHAT, bearer(limitedKey),
        chat("mock-llm"), 429, "requests", "rate_limit_exceeded", null,
        List.of("retry-after=*", "x-ratelimit-limit-requests=1", "x-ratelimit-remaining-requests=0")))));
    mismatches.addAll(check(cases));
    assertTrue(mismatches.isEmpty(), String.join("\n", mismatches));
  }

  /** The refusal of a frozen agent (FrozenAgentIT covers the whole story); the agent is running again afterwards. */
  @Test void aFrozenAgentsRequestsAreRefusedAsTunnelUnresponsive() throws Exception {
    Case frozen = new Case("the cluster's agent is frozen", "POST", CHAT, bearer(KEY), chat("mock-llm"), 503, SERVER,
        "tunnel_unresponsive", null, List.of("retry-after=5"));
    FrozenAgent agent = FrozenAgent.find();
    agent.stop();
    try {
      Await.until(Duration.ofSeconds(15), "the gateway to notice the frozen agent", () -> send(frozen).statusCode() == 503);
      List<String> mismatches = check(List.of(frozen));
      assertTrue(mismatches.isEmpty(), String.join("\n", mismatches));
    } finally {
      agent.resume();
    }
    EmbeddedStack.awaitReady(gateway, "mock-llm");
  }

  @Test void theAdminApiRefusesWithTheSameStatusTypeCodeAndParamAsBefore() throws Exception {
    String user = "errors-admin";
    adminOk("POST", "/admin/users", "{\"id\":\"" + user + "\"}");
    String a = bearer(ADMIN);
    List<Case> cases = List.of(
        new Case("no admin key", "GET", "/admin/services", null, null, 401, INVALID, "invalid_api_key", null,
            List.of("www-authenticate=Bearer")),
        new Case("an API key is no admin key", "GET", "/admin/users", bearer(KEY), null, 401, INVALID, "invalid_api_key", null),
        new Case("unknown service", "GET", "/admin/services/nope", a, null, 404, INVALID, "service_not_found", null),
        new Case("scale of an unknown service", "POST", "/admin/services/nope/scale", a, "{\"min\":0,\"max\":1}", 404, INVALID,
            "service_not_found", null),
        new Case("scale min above max", "POST", "/admin/services/mock-llm/scale", a, "{\"min\":2,\"max\":1}", 400, INVALID,
            "invalid_scale", null),
        new Case("scale not a number", "POST", "/admin/services/mock-llm/scale", a, "{\"min\":\"a\",\"max\":1}", 400, INVALID,
            "invalid_scale", "min"),
        new Case("scale without max", "POST", "/admin/services/mock-llm/scale", a, "{\"min\":1}", 400, INVALID, "invalid_scale", "max"),
        new Case("scale body not JSON", "POST", "/admin/services/mock-llm/scale", a, "min=1", 400, INVALID, "invalid_json", null),
        new Case("drain an unknown replica", "POST", "/admin/services/mock-llm/replicas/999999/drain", a, null, 404, INVALID,
            "replica_not_found", null),
        new Case("user id with a space", "POST", "/admin/users", a, "{\"id\":\"bad id!\"}", 400, INVALID, "invalid_request", "id"),
        new Case("user without id", "POST", "/admin/users", a, "{\"groups\":[]}", 400, INVALID, "invalid_request", "id"),
        new Case("unknown user field", "POST", "/admin/users", a, "{\"id\":\"x2\",\"colour\":\"red\"}", 400, INVALID,
            "invalid_request", "colour"),
        new Case("group starting with a dash", "POST", "/admin/users", a, "{\"id\":\"x3\",\"groups\":[\"-x\"]}", 400, INVALID,
            "invalid_request", null),
        new Case("groups not an array", "POST", "/admin/users", a, "{\"id\":\"x3\",\"groups\":\"staff\"}", 400, INVALID,
            "invalid_request", null),
        new Case("unknown limit window", "POST", "/admin/users", a, "{\"id\":\"x4\",\"limits\":{\"requests\":{\"minut\":1}}}", 400,
            INVALID, "invalid_request", null),
        new Case("user body not JSON", "POST", "/admin/users", a, "{", 400, INVALID, "invalid_json", null),
        new Case("user body not an object", "POST", "/admin/users", a, "[]", 400, INVALID, "invalid_json", null),
        new Case("existing user", "POST", "/admin/users", a, "{\"id\":\"" + user + "\"}", 409, INVALID, "user_exists", null),
        new Case("unknown user", "GET", "/admin/users/nobody-here", a, null, 404, INVALID, "user_not_found", null),
        new Case("malformed user id", "GET", "/admin/users/bad!id", a, null, 404, INVALID, "user_not_found", null),
        new Case("nothing to change", "PATCH", "/admin/users/" + user, a, "{}", 400, INVALID, "invalid_request", null),
        new Case("patch of an unknown user", "PATCH", "/admin/users/nobody-here", a, "{\"groups\":[]}", 404, INVALID,
            "user_not_found", null),
        new Case("key of an unknown user", "POST", "/admin/users/nobody-here/keys", a, "{}", 404, INVALID, "user_not_found", null),
        new Case("key expiring in the past", "POST", "/admin/users/" + user + "/keys", a, "{\"expires_at\":\"2001-01-01T00:00:00Z\"}",
            400, INVALID, "invalid_request", null),
        new Case("key expiry not a time", "POST", "/admin/users/" + user + "/keys", a, "{\"expires_at\":\"tomorrow\"}", 400, INVALID,
            "invalid_request", null),
        new Case("key name too long", "POST", "/admin/users/" + user + "/keys", a, "{\"name\":\"" + "n".repeat(129) + "\"}", 400,
            INVALID, "invalid_request", null),
        new Case("key models not strings", "POST", "/admin/users/" + user + "/keys", a, "{\"models\":[1]}", 400, INVALID,
            "invalid_request", null),
        new Case("unknown key field", "POST", "/admin/users/" + user + "/keys", a, "{\"secret\":\"x\"}", 400, INVALID,
            "invalid_request", "secret"),
        new Case("revoke an unknown key", "DELETE", "/admin/keys/key_0000", a, null, 404, INVALID, "key_not_found", null),
        new Case("unknown usage parameter", "GET", "/admin/usage?bogus=1", a, null, 400, INVALID, "invalid_request", "bogus"),
        new Case("usage limit out of range", "GET", "/admin/usage?limit=-1", a, null, 400, INVALID, "invalid_request", "limit"),
        new Case("usage from not a time", "GET", "/admin/usage?from=yesterday", a, null, 400, INVALID, "invalid_request", "from"),
        new Case("usage from in the year 10^9", "GET", "/admin/usage?from=%2B1000000000-01-01T00:00:00Z", a, null, 400, INVALID,
            "invalid_request", "from"),
        new Case("usage to in the year 10000", "GET", "/admin/usage?to=%2B10000-01-01", a, null, 400, INVALID, "invalid_request", "to"),
        new Case("key expiry in the year 10^9", "POST", "/admin/users/" + user + "/keys", a,
            "{\"expires_at\":\"+1000000000-01-01T00:00:00Z\"}", 400, INVALID, "invalid_request", null),
        new Case("user body with a field twice", "POST", "/admin/users", a, "{\"id\":\"x5\",\"id\":\"x6\"}", 400, INVALID,
            "invalid_json", "id"),
        new Case("user body with data after it", "POST", "/admin/users", a, "{\"id\":\"x7\"} {}", 400, INVALID, "invalid_json", null),
        new Case("usage format unknown", "GET", "/admin/usage?format=xml", a, null, 400, INVALID, "invalid_request", "format"),
        new Case("wrong method on users", "PUT", "/admin/users", a, "{}", 405, INVALID, "method_not_allowed", null),
        new Case("unknown admin path", "GET", "/admin/nothing", a, null, 404, INVALID, "unknown_url", null));
    List<String> mismatches = check(cases);
    assertTrue(mismatches.isEmpty(), String.join("\n", mismatches));
    // Nothing was changed by the refusals.
    JsonNode mock = adminOk("GET", "/admin/services/mock-llm", null);
    assertEquals(1, mock.get("min_replicas").asInt(), mock.toString());
    assertEquals(1, mock.get("max_replicas").asInt(), mock.toString());
    assertEquals(404, admin("GET", "/admin/users/x2", null).statusCode());
    for (String refused : List.of("x5", "x6", "x7")) assertEquals(404, admin("GET", "/admin/users/" + refused, null).statusCode());
    assertEquals(0, adminOk("GET", "/admin/users/" + user, null).get("keys").size());
  }

  /** The one refusal no HttpClient can provoke: a chunked body that never ends (ConnectionLimitsIT has the details). */
  @Test void aBodyThatNeverEndsIsRefusedWith408AndTheConnectionClosed() throws Exception {
    try (Socket s = new Socket(InetAddress.getLoopbackAddress(), gateway.port())) {
      s.setSoTimeout(30_000);
      s.getOutputStream().write(("POST " + CHAT + " HTTP/1.1\r\nHost: x\r\nAuthorization: " + bearer(KEY)
          + "\r\nx-request-id: body-1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n{\"mod\r\n").getBytes(StandardCharsets.UTF_8));
      String reply = new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);       // until the server closes
      String head = reply.substring(0, reply.indexOf("\r\n\r\n")).toLowerCase(Locale.ROOT);
      JsonNode error = JSON.readTree(reply.substring(reply.indexOf("\r\n\r\n") + 4)).path("error");
      assertTrue(head.startsWith("http/1.1 408"), head);
      assertTrue(head.contains("content-type: application/json"), head);
      assertTrue(head.contains("x-request-id: body-1"), head);
      assertEquals(INVALID, error.path("type").asText());
      assertEquals("body_timeout", error.path("code").asText());
      assertTrue(error.path("param").isNull(), error.toString());
      assertTrue(!error.path("message").asText().isBlank(), error.toString());
    }
  }
}
