package sluice.edge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.ConnectException;
import java.net.URI;
import java.net.http.HttpTimeoutException;
import java.nio.channels.UnresolvedAddressException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Each command against a fake transport: what is sent, what is printed, and the exit code. */
class AdminCliTest {
  static final String ADMIN_KEY = "admin-0123456789abcdef";
  static final Instant NOW = Instant.parse("2026-06-01T10:00:00Z");
  static final ObjectMapper JSON = new ObjectMapper();

  /** Records the gateway and key it was opened with and every request; answers with {@code answer}. */
  static final class FakeGateway implements AdminTransport, AdminCli.Transports {
    URI gateway;
    String adminKey;
    final List<Request> sent = new ArrayList<>();
    Response answer = new Response(200, "application/json", "{\"id\":\"alice\"}");
    IOException failure;

    @Override public AdminTransport open(URI gateway, String adminKey) {
      this.gateway = gateway;
      this.adminKey = adminKey;
      return this;
    }

    @Override public Response send(Request request) throws IOException {
      sent.add(request);
      if (failure != null) throw failure;
      return answer;
    }

    Request only() {
      assertEquals(1, sent.size(), "requests sent");
      return sent.get(0);
    }
  }

  record Result(int exit, String out, String err) {}

  final FakeGateway fake = new FakeGateway();
  final Map<String, String> env = new HashMap<>(Map.of("SLUICE_ADMIN_KEY", ADMIN_KEY));

  Result run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = AdminCli.run(args, new AdminCli.Context(env, new PrintWriter(out), new PrintWriter(err),
        Clock.fixed(NOW, ZoneOffset.UTC), fake));
    return new Result(exit, out.toString(), err.toString());
  }

  static JsonNode json(String s) {
    try {
      return JSON.readTree(s);
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  void assertRequest(String method, String path, String body) {
    AdminTransport.Request r = fake.only();
    assertEquals(method, r.method());
    assertEquals(path, r.path());
    if (body == null) assertNull(r.body());
    else assertEquals(json(body), json(r.body().toString()));   // as on the wire: 60 is 60, whether int or long
  }

  /** Exit 2, the message on stderr, and nothing sent. */
  void assertUsageError(Result r, String message) {
    assertEquals(2, r.exit(), r.err());
    assertTrue(r.err().contains(message), "stderr should contain '" + message + "' but was: " + r.err());
    assertTrue(fake.sent.isEmpty(), "nothing may be sent after a usage error");
  }

  // ---------------------------------------------------------------- users

  @Test void usersCreateSendsIdGroupsAndLimitsAndPrintsTheUser() {
    fake.answer = new AdminTransport.Response(201, "application/json", "{\"id\":\"alice\",\"groups\":[\"staff\"]}");
    Result r = run("users", "create", "alice", "--group", "staff", "--group", "gpu", "--group", "staff",
        "--limit", "requests.minute=60", "--limit", "tokens.day=100000", "--limit", "concurrent=4",
        "--limit", "model:m1:requests.minute=5", "--limit", "model:m1:concurrent=1");
    assertEquals(0, r.exit(), r.err());
    assertRequest("POST", "/admin/users", """
        {"id":"alice","groups":["staff","gpu"],"limits":{"requests":{"minute":60},"tokens":{"day":100000},"concurrent":4,
         "models":{"m1":{"requests":{"minute":5},"concurrent":1}}}}""");
    assertEquals("{\n  \"id\": \"alice\",\n  \"groups\": [\n    \"staff\"\n  ]\n}\n", r.out());
    assertEquals("", r.err());
  }

  @Test void usersCreateWithOnlyAnIdSendsOnlyTheId() {
    assertEquals(0, run("users", "create", "alice@example.org").exit());
    assertRequest("POST", "/admin/users", "{\"id\":\"alice@example.org\"}");
  }

  @Test void limitSpecsOverrideTheLimitsJson() {
    assertEquals(0, run("users", "create", "alice", "--limits",
        "{\"requests\":{\"minute\":10,\"hour\":100},\"models\":{\"m1\":{\"tokens\":{\"day\":5}}}}",
        "--limit", "requests.minute=60", "--limit", "model:m1:tokens.month=50").exit());
    assertRequest("POST", "/admin/users", """
        {"id":"alice","limits":{"requests":{"minute":60,"hour":100},"models":{"m1":{"tokens":{"day":5,"month":50}}}}}""");
  }

  @Test void usersListAndGetSendNoBody() {
    fake.answer = new AdminTransport.Response(200, "application/json", "{\"object\":\"list\",\"data\":[{\"id\":\"alice\"}]}");
    Result r = run("users", "list");
    assertEquals(0, r.exit());
    assertRequest("GET", "/admin/users", null);
    assertEquals(json("{\"object\":\"list\",\"data\":[{\"id\":\"alice\"}]}"), json(r.out()));

    fake.sent.clear();
    assertEquals(0, run("users", "get", "alice").exit());
    assertRequest("GET", "/admin/users/alice", null);
  }

  @Test void usersUpdateReplacesGroupsAndLimits() {
    assertEquals(0, run("users", "update", "alice", "--group", "gpu", "--limits", "{}").exit());
    assertRequest("PATCH", "/admin/users/alice", "{\"groups\":[\"gpu\"],\"limits\":{}}");

    fake.sent.clear();
    assertEquals(0, run("users", "update", "alice", "--no-groups").exit());
    assertRequest("PATCH", "/admin/users/alice", "{\"groups\":[]}");

    fake.sent.clear();
    assertEquals(0, run("users", "update", "alice", "--limit", "tokens.hour=1000").exit());
    assertRequest("PATCH", "/admin/users/alice", "{\"limits\":{\"tokens\":{\"hour\":1000}}}");
  }

  @Test void usersUpdateWithNothingToChangeIsABadUsage() {
    assertUsageError(run("users", "update", "alice"), "nothing to change");
    assertUsageError(run("users", "update", "alice", "--group", "a", "--no-groups"), "--group and --no-groups");
  }

  // ---------------------------------------------------------------- keys

  @Test void keysCreatePrintsTheKeyAndWarnsItIsShownOnce() {
    String key = "{\"id\":\"key_1\",\"key\":\"sk-secret\",\"name\":\"laptop\"}";
    fake.answer = new AdminTransport.Response(201, "application/json", key);
    Result r = run("keys", "create", "alice", "--name", "laptop", "--expires-in", "30d", "--model", "m1", "--model", "m2",
        "--model", "m1", "--limit", "requests.minute=5", "--limit", "concurrent=2");
    assertEquals(0, r.exit(), r.err());
    assertRequest("POST", "/admin/users/alice/keys", """
        {"name":"laptop","expires_at":"2026-07-01T10:00:00Z","models":["m1","m2"],
         "limits":{"requests":{"minute":5},"concurrent":2}}""");
    assertEquals(json(key), json(r.out()));
    assertEquals(1, r.err().lines().count(), r.err());
    assertTrue(r.err().contains("shown only this once"), r.err());
  }

  @Test void keysCreateTakesAnExpiryInstantOrNone() {
    assertEquals(0, run("keys", "create", "alice", "--expires-at", "2026-12-31T00:00:00Z").exit());
    assertRequest("POST", "/admin/users/alice/keys", "{\"expires_at\":\"2026-12-31T00:00:00Z\"}");
    fake.sent.clear();
    assertEquals(0, run("keys", "create", "alice", "--expires-in", "90m").exit());
    assertRequest("POST", "/admin/users/alice/keys", "{\"expires_at\":\"2026-06-01T11:30:00Z\"}");
    fake.sent.clear();
    assertEquals(0, run("keys", "create", "alice").exit());
    assertRequest("POST", "/admin/users/alice/keys", "{}");
  }

  @Test void keysCreateRefusesAFailedCreationWithoutTheOnceWarning() {
    fake.answer = new AdminTransport.Response(404, "application/json",
        "{\"error\":{\"message\":\"No user 'bob'\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"user_not_found\"}}");
    Result r = run("keys", "create", "bob");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: No user 'bob' (user_not_found, HTTP 404)\n", r.err());
    assertEquals("", r.out());
  }

  @Test void keysRevokeSendsDelete() {
    fake.answer = new AdminTransport.Response(200, "application/json", "{\"id\":\"key_1\",\"revoked_at\":\"2026-06-01T10:00:00Z\"}");
    Result r = run("keys", "revoke", "key_1");
    assertEquals(0, r.exit());
    assertRequest("DELETE", "/admin/keys/key_1", null);
    assertTrue(r.out().contains("\"revoked_at\": \"2026-06-01T10:00:00Z\""), r.out());
  }

  @Test void keysRevokeGivenTheSecretDoesNotEchoIt() {
    Result r = run("keys", "revoke", "sk-very-secret-value");
    assertUsageError(r, "that is a key's secret, not its id");
    assertFalse(r.err().contains("very-secret"), r.err());
  }

  // ---------------------------------------------------------------- usage

  @Test void usageSendsTheFiltersAsQueryAndPrintsCsvAsItComes() {
    String csv = "ts,user,model,prompt_tokens\r\n2026-11-01T00:00:01Z,alice,m1,4\r\n";
    fake.answer = new AdminTransport.Response(200, "text/csv", csv);
    Result r = run("usage", "--user", "alice", "--model", "m1", "--from", "2026-11-01", "--to", "2026-11-02T00:00:00Z",
        "--limit", "10", "--csv");
    assertEquals(0, r.exit(), r.err());
    AdminTransport.Request sent = fake.only();
    assertEquals("GET", sent.method());
    assertEquals("/admin/usage", sent.path());
    Map<String, String> expected = new LinkedHashMap<>();
    expected.put("user", "alice");
    expected.put("model", "m1");
    expected.put("from", "2026-11-01");
    expected.put("to", "2026-11-02T00:00:00Z");
    expected.put("limit", "10");
    expected.put("format", "csv");
    assertEquals(List.copyOf(expected.entrySet()), List.copyOf(sent.query().entrySet()));
    assertNull(sent.body());
    assertEquals(csv, r.out());
  }

  @Test void usageWithoutFiltersAsksForJson() {
    fake.answer = new AdminTransport.Response(200, "application/json", "{\"totals\":{\"requests\":0},\"by_user_model\":[],\"data\":[]}");
    Result r = run("usage");
    assertEquals(0, r.exit());
    assertEquals(Map.of(), fake.only().query());
    assertEquals(json("{\"totals\":{\"requests\":0},\"by_user_model\":[],\"data\":[]}"), json(r.out()));
  }

  // ---------------------------------------------------------------- checked before sending

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "users create al/ice                                 | invalid user id 'al/ice'",
      "users create alice --group -x                        | invalid group '-x'",
      "users create alice --limit requests.minut=5          | unknown window 'minut'",
      "users create alice --limit requests.minute=-1        | must be a whole number >= 0",
      "users create alice --limit requests.minute=1e3       | must be a whole number >= 0",
      "users create alice --limit requests.minute=          | must be a whole number >= 0",
      "users create alice --limit tokens=5                  | name the window",
      "users create alice --limit bytes.minute=5            | unknown limit 'bytes.minute'",
      "users create alice --limit requests.minute           | expected NAME=NUMBER",
      "users create alice --limit concurrent=99999999999    | concurrent is too large",
      "users create alice --limit model:a/b:concurrent=1    | invalid model 'a/b'",
      "users create alice --limit model:m1                  | expected model:NAME:",
      "users create alice --limits {                        | --limits is not valid JSON",
      "users create alice --limits []                       | --limits must be a JSON object",
      "users create alice --limits {\"request\":{}}          | limits.request: unknown field",
      "users create alice --limits {\"requests\":{\"minute\":\"60\"}} | limits.requests.minute must be a whole number",
      "users create alice --limits {\"requests\":{\"week\":1}} | limits.requests: unknown window 'week'",
      "users create alice --limits {\"concurrent\":1.5}      | limits.concurrent must be a whole number",
      "users create alice --limits {\"concurrent\":1,\"concurrent\":2} | --limits is not valid JSON: Duplicate field",
      "users create alice --limits {\"models\":{\"m1\":{\"models\":{}}}} | limits.models.m1.models: a model's limits cannot have models",
      "users get                                            | Missing required parameter: 'ID'",
      "users                                                | Missing required subcommand",
      "users delete alice                                   | Unmatched arguments",
      "keys create alice --limit model:m1:requests.minute=5 | per-model limits (model:NAME:...) apply to users only",
      "keys create alice --expires-in 30y                   | invalid duration '30y'",
      "keys create alice --expires-in 0d                    | more than 0 and at most 3650d",
      "keys create alice --expires-in 3651d                 | more than 0 and at most 3650d",
      "keys create alice --expires-at tomorrow              | invalid instant 'tomorrow'",
      "keys create alice --expires-at 2026-06-01T09:59:59Z  | is not in the future",
      "keys create alice --expires-at 2026-12-31T00:00:00Z --expires-in 1d | cannot be used together",
      "keys create alice --model bad:model                  | invalid model 'bad:model'",
      "keys create alice --name \" \"                        | invalid key name",
      "keys revoke 42                                       | invalid key id '42'",
      "usage --from yesterday                               | invalid time 'yesterday'",
      "usage --from 2026-11-02 --to 2026-11-01              | --from 2026-11-02 is after --to 2026-11-01",
      "usage --limit 0                                      | --limit must be in 1..",
      "usage --limit many                                   | Invalid value for option '--limit'",
  })
  void badArgumentsAreRefusedBeforeSending(String args, String message) {
    assertUsageError(run(split(args)), message);
  }

  /** Splits on spaces, except inside double quotes (which are removed). */
  private static String[] split(String line) {
    List<String> out = new ArrayList<>();
    StringBuilder cur = new StringBuilder();
    boolean quoted = false;
    boolean any = false;
    for (char c : line.toCharArray()) {
      if (c == '"' && cur.length() == 0 && !quoted) {
        quoted = true;
        any = true;
      } else if (c == '"' && quoted) {
        quoted = false;
      } else if (c == ' ' && !quoted) {
        if (cur.length() > 0 || any) out.add(cur.toString());
        cur.setLength(0);
        any = false;
      } else {
        cur.append(c);
      }
    }
    if (cur.length() > 0 || any) out.add(cur.toString());
    return out.toArray(String[]::new);
  }

  @Test void aBadUsagePrintsTheCommandsUsage() {
    Result r = run("users", "create", "alice", "--limit", "x");
    assertEquals(2, r.exit());
    assertTrue(r.err().contains("Usage: sluice admin users create"), r.err());
  }

  @Test void helpGoesToStdout() {
    Result r = run("keys", "create", "--help");
    assertEquals(0, r.exit());
    assertTrue(r.out().contains("--expires-in=DURATION"), r.out());
    assertTrue(fake.sent.isEmpty());
  }

  // ---------------------------------------------------------------- gateway and admin key

  @Test void theGatewayComesFromUrlThenEnvironmentThenDefault() {
    run("users", "list");
    assertEquals(URI.create("http://127.0.0.1:8080"), fake.gateway);
    env.put("SLUICE_URL", "https://sluice.example.org/gw");
    run("users", "list");
    assertEquals(URI.create("https://sluice.example.org/gw"), fake.gateway);
    run("--url", "http://10.0.0.5:9000", "users", "list");
    assertEquals(URI.create("http://10.0.0.5:9000"), fake.gateway);
    run("users", "list", "--url", "http://10.0.0.6:9000");
    assertEquals(URI.create("http://10.0.0.6:9000"), fake.gateway);
  }

  @Test void aUrlThatIsNotHttpIsABadUsage() {
    assertUsageError(run("--url", "ftp://x", "users", "list"), "--url must be an http(s) URL");
    env.put("SLUICE_URL", "localhost:8080");
    assertUsageError(run("users", "list"), "SLUICE_URL must be an http(s) URL");
    assertUsageError(run("--url", "http://admin:pw@host", "users", "list"), "must not hold a user or password");
  }

  @Test void theAdminKeyComesFromTheEnvironmentOrAFile(@TempDir Path dir) throws IOException {
    run("users", "list");
    assertEquals(ADMIN_KEY, fake.adminKey);
    Path file = dir.resolve("admin.key");
    Files.writeString(file, "from-file-0123456789\n");
    assertEquals(0, run("users", "list", "--admin-key-file", file.toString()).exit());
    assertEquals("from-file-0123456789", fake.adminKey);
  }

  @Test void aMissingOrBadAdminKeyIsABadUsage(@TempDir Path dir) throws IOException {
    env.remove("SLUICE_ADMIN_KEY");
    assertUsageError(run("users", "list"), "no admin key: set SLUICE_ADMIN_KEY or pass --admin-key-file FILE");
    assertUsageError(run("users", "list", "--admin-key-file", dir.resolve("none").toString()), "no such file");
    Path empty = Files.writeString(dir.resolve("empty"), "\n");
    assertUsageError(run("users", "list", "--admin-key-file", empty.toString()), "is empty");
    Path twoLines = Files.writeString(dir.resolve("two"), "first-line-secret\nsecond-line-secret\n");
    Result r = run("users", "list", "--admin-key-file", twoLines.toString());
    assertUsageError(r, "must be one line of printable characters");
    assertFalse(r.err().contains("line-secret"), r.err());
  }

  @Test void anAdminKeyArgumentIsRefusedWithoutEchoingIt() {
    Result r = run("users", "list", "--admin-key", "sk-admin-on-the-command-line");
    assertUsageError(r, "the admin key is never taken as an argument");
    assertFalse(r.err().contains("on-the-command-line"), r.err());
  }

  // ---------------------------------------------------------------- refusals and failures

  @Test void anApiErrorExitsOneWithTheGatewaysMessage() {
    fake.answer = new AdminTransport.Response(401, "application/json",
        "{\"error\":{\"message\":\"The admin API needs 'Authorization: Bearer <admin key>'\",\"type\":\"invalid_request_error\","
            + "\"param\":null,\"code\":\"invalid_api_key\"}}");
    Result r = run("users", "list");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: The admin API needs 'Authorization: Bearer <admin key>' (invalid_api_key, HTTP 401)\n", r.err());
    assertEquals("", r.out());
  }

  @Test void anErrorWithoutCodeNamesItsType() {
    fake.answer = new AdminTransport.Response(400, "application/json",
        "{\"error\":{\"message\":\"bad limits\",\"type\":\"invalid_request_error\",\"param\":\"limits\",\"code\":null}}");
    assertEquals("sluice admin: bad limits (invalid_request_error, HTTP 400)\n", run("users", "list").err());
  }

  @Test void aNonJsonErrorShowsTheStatusAndText() {
    fake.answer = new AdminTransport.Response(404, "text/plain", "The requested resource could not be found.");
    Result r = run("users", "list");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: the gateway answered HTTP 404: The requested resource could not be found.\n", r.err());
  }

  @Test void anUnreachableGatewayExitsOneNamingTheUrl() {
    fake.failure = new ConnectException();
    Result r = run("--url", "http://10.1.2.3:8080", "users", "list");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: cannot reach the gateway at http://10.1.2.3:8080 (connection refused)\n", r.err());
    assertEquals("", r.out());
  }

  @Test void anUnknownHostIsNamed() {
    ConnectException e = new ConnectException();
    e.initCause(new UnresolvedAddressException());    // how the JDK client reports it
    fake.failure = e;
    Result r = run("--url", "http://gateway.invalid:8080", "users", "list");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: cannot reach the gateway at http://gateway.invalid:8080 (unknown host)\n", r.err());
  }

  @Test void numbersArePrintedAsTheGatewayWroteThem() {
    fake.answer = new AdminTransport.Response(200, "application/json",
        "{\"totals\":{\"cost_usd\":0.000123,\"tokens\":12345678901234567,\"ratio\":1.5}}");
    assertEquals("{\n  \"totals\": {\n    \"cost_usd\": 0.000123,\n    \"tokens\": 12345678901234567,\n    \"ratio\": 1.5\n  }\n}\n",
        run("usage").out());
  }

  @Test void aGatewayThatDoesNotAnswerExitsOne() {
    fake.failure = new HttpTimeoutException("request timed out");
    Result r = run("users", "list");
    assertEquals(1, r.exit());
    assertEquals("sluice admin: the gateway at http://127.0.0.1:8080 did not answer within 2 minutes\n", r.err());
  }
}
