package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.core.service.ServiceStatus;

/**
 * The operator dashboard in a real headless Chromium against the embedded stack, as an operator uses it: the login,
 * the running service and its replica, live updates without a reload when a replica is added through the admin API and
 * when requests flow, a drain from the page, and a screenshot. The tests run in order on one page.
 */
@Timeout(300)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class DashboardIT {
  static final Path SCREENSHOT = Path.of("target/dashboard.png");
  static final Duration LIVE = Duration.ofSeconds(30);
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();
  static Path dir;
  static Gateway gateway;
  static BrowserDriver browser;
  static String firstJob;
  static int loadsAfterLogin;
  static CompletableFuture<HttpResponse<InputStream>> longStream;

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-dashboard-it");
    browser = BrowserDriver.start(dir.resolve("browser.log"));        // first: a missing browser fails at once
    EmbeddedStack.writeAgentConfig(dir);
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.dashboard { state-interval = 300ms, traffic-interval = 1s }
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        """));
    ServiceStatus ready = EmbeddedStack.awaitReady(gateway, "mock-llm");
    firstJob = ready.replicas().stream().filter(ServiceStatus.Replica::routable).findFirst().orElseThrow().jobId();
    EmbeddedStack.awaitReady(gateway, "slow");
  }

  @AfterAll static void stop() throws Exception {
    if (longStream != null) longStream.thenAccept(r -> close(r.body()));
    if (browser != null) browser.close();
    if (gateway != null) gateway.close();
  }

  private static void close(InputStream in) {
    try {
      in.close();
    } catch (Exception e) {
      // the stream is being cut anyway
    }
  }

  private static HttpResponse<String> http(String method, String path, String bearer, String body) throws Exception {
    HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path)).timeout(Duration.ofSeconds(30))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    if (bearer != null) b.header("Authorization", "Bearer " + bearer);
    if (body != null) b.header("Content-Type", "application/json");
    return HTTP.send(b.build(), HttpResponse.BodyHandlers.ofString());
  }

  private static String replicaRows(String service) { return "[data-service=\"" + service + "\"] tr[data-job]"; }

  /** The page was not reloaded: the same load, and the marker set into its window after the login still there. */
  private static void assertNoReload() throws Exception {
    assertEquals(loadsAfterLogin, browser.loads(), "the page was loaded again");
    assertEquals("still-this-page", browser.eval("window.sluiceTestMarker").asText());
  }

  @Test @Order(1) void withoutTheKeyThePageShowsTheLoginAndNoData() throws Exception {
    browser.open(gateway.baseUrl() + "/dashboard");
    browser.waitFor("#login-form");

    assertEquals(0, browser.count("#board:not([hidden])"));
    assertEquals(0, browser.count("[data-service], [data-job], [data-traffic-model], [data-user], [data-gateway]"));
    assertFalse(browser.eval("document.documentElement.outerHTML.includes('mock-llm')").asBoolean(), "no service data in the DOM");
    assertEquals("disconnected", browser.text("#connection"));

    HttpResponse<String> events = http("GET", "/admin/dashboard/events", null, null);
    assertEquals(401, events.statusCode());
    assertEquals("invalid_api_key", JSON.readTree(events.body()).path("error").path("code").asText(), events.body());
    HttpResponse<String> unknown = http("GET", "/dashboard/..%2F..%2Fconf%2Fembedded.conf", null, null);
    assertEquals(404, unknown.statusCode());
    assertEquals("unknown_url", JSON.readTree(unknown.body()).path("error").path("code").asText(), unknown.body());
  }

  @Test @Order(2) void aWrongKeyShowsTheApisErrorAndNoData() throws Exception {
    browser.fill("#admin-key", "not-the-admin-key-0000");
    browser.click("#login-submit");

    String error = Await.until(LIVE, "the login's error", () -> browser.text("#login-error"), t -> t != null && !t.isBlank());
    assertEquals("The admin API needs 'Authorization: Bearer <admin key>'", error, "the API's own message");
    assertEquals(0, browser.count("#board:not([hidden])"));
    assertEquals(0, browser.count("[data-service]"));
    assertTrue(browser.eval("sessionStorage.getItem('sluice.adminKey')").isNull(), "a refused key is not kept");
  }

  @Test @Order(3) void withTheKeyItShowsTheRunningServiceAndItsReplica() throws Exception {
    browser.fill("#admin-key", EmbeddedStack.ADMIN_KEY);
    browser.click("#login-submit");

    browser.waitFor("[data-service=\"mock-llm\"] tr[data-job=\"" + firstJob + "\"]");
    String row = "[data-service=\"mock-llm\"] tr[data-job=\"" + firstJob + "\"]";
    assertEquals(firstJob, browser.text(row + " .job"));
    assertEquals("ready", browser.text(row + " .phase"));
    assertEquals("ok", browser.text(row + " .health"));
    assertEquals("connected", browser.eval("document.getElementById('connection').dataset.state").asText());
    assertEquals(EmbeddedStack.ADMIN_KEY, browser.eval("sessionStorage.getItem('sluice.adminKey')").asText());
    assertEquals(0, browser.eval("localStorage.length").asInt(), "nothing in localStorage");
    assertFalse(browser.eval("location.href").asText().contains(EmbeddedStack.ADMIN_KEY), "the key is in no URL");
    // the time-left bar counts down from the job's Slurm limit
    assertTrue(browser.text(row + " .bar-text").matches("\\d+ m \\d\\d s"), browser.text(row + " .bar-text"));
    loadsAfterLogin = browser.loads();
    browser.eval("window.sluiceTestMarker = 'still-this-page'");
  }

  @Test @Order(4) void scalingUpThroughTheAdminApiAddsAReplicaRowWithoutAReload() throws Exception {
    assertEquals(1, browser.count(replicaRows("mock-llm")));
    long start = System.nanoTime();
    HttpResponse<String> scaled = http("POST", "/admin/services/mock-llm/scale", EmbeddedStack.ADMIN_KEY, "{\"min\": 2, \"max\": 2}");
    assertEquals(200, scaled.statusCode(), scaled.body());

    Await.until(LIVE, "a second mock-llm replica row", () -> browser.count(replicaRows("mock-llm")), n -> n == 2);
    long shownMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    assertEquals("2 / 2", browser.text("[data-service=\"mock-llm\"] .fact:nth-child(2) dd"));
    Await.until(Duration.ofSeconds(90), "the new replica to be ready on the page",
        () -> browser.count(replicaRows("mock-llm") + "[data-phase=\"ready\"]"), n -> n == 2);
    assertNoReload();
    System.out.printf("dashboard: the scaled-up replica's row appeared %d ms after the scale request%n", shownMillis);
  }

  private long shownRequests() throws Exception {
    String t = browser.text("[data-traffic-model=\"mock-llm\"] .total-requests");
    return t == null ? -1 : Long.parseLong(t.trim());
  }

  @Test @Order(5) void requestsShowInTheTrafficSectionWithoutAReload() throws Exception {
    long before = Await.until(LIVE, "the traffic section", this::shownRequests, n -> n >= 0);
    String chat = "{\"model\": \"mock-llm\", \"max_tokens\": 3, \"messages\": [{\"role\": \"user\", \"content\": \"hello\"}]}";
    for (int i = 0; i < 3; i++) {
      HttpResponse<String> r = http("POST", "/v1/chat/completions", EmbeddedStack.API_KEY, chat);
      assertEquals(200, r.statusCode(), r.body());
    }
    long start = System.nanoTime();

    Await.until(LIVE, "mock-llm's requests of the last hour to rise by 3", this::shownRequests, n -> n >= before + 3);
    long shownMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
    Await.until(LIVE, "a top user", () -> browser.count("[data-user]"), n -> n >= 1);
    assertNoReload();
    System.out.printf("dashboard: 3 requests were counted on the page %d ms after they ended%n", shownMillis);
  }

  @Test @Order(6) void drainingAReplicaFromThePageShowsItDraining() throws Exception {
    // A long request keeps slow's replica busy, so its drain lasts (running requests finish first).
    String stream = "{\"model\": \"slow\", \"stream\": true, \"max_tokens\": 400, \"messages\": [{\"role\": \"user\", \"content\": \"long\"}]}";
    longStream = HTTP.sendAsync(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(stream)).build(), HttpResponse.BodyHandlers.ofInputStream());
    String busy = replicaRows("slow") + "[data-phase=\"ready\"]";
    Await.until(LIVE, "slow's replica with a request in flight", () -> browser.text(busy + " td.num"), "1"::equals);
    String job = browser.eval("document.querySelector('" + busy.replace("'", "\\'") + "').dataset.job").asText();

    browser.click(replicaRows("slow") + "[data-job=\"" + job + "\"] button.drain");

    String row = replicaRows("slow") + "[data-job=\"" + job + "\"]";
    Await.until(LIVE, "the drained replica's row to show draining", () -> browser.text(row + " .phase"), "draining"::equals);
    assertEquals("draining", browser.text(row + " .health"));
    assertEquals("drained by an operator", browser.text(row + " .reason"));
    assertNoReload();
  }

  @Test @Order(7) void aScreenshotOfTheDashboardIsSaved() throws Exception {
    Await.until(LIVE, "job events on the page", () -> browser.count("#events-body tr"), n -> n >= 2);
    Files.deleteIfExists(SCREENSHOT);
    browser.screenshot(SCREENSHOT);

    byte[] png = Files.readAllBytes(SCREENSHOT);
    assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, Arrays.copyOf(png, 4), "a PNG");
    assertTrue(png.length > 10_000, "a real page, not a blank one: " + png.length + " bytes");
    List<String> problems = browser.problems().stream()
        .filter(p -> !p.contains("status of 401")).toList();                 // the wrong key's refusal
    assertEquals(List.of(), problems, "no script errors and no Content-Security-Policy violations");
  }

  @Test @Order(8) void loggingOutForgetsTheKeyAndClearsTheData() throws Exception {
    browser.click("#logout");

    browser.waitFor("#login-form");
    assertTrue(browser.eval("sessionStorage.getItem('sluice.adminKey')").isNull());
    assertEquals(0, browser.count("[data-service], [data-job], [data-traffic-model], [data-user], [data-gateway]"));
    assertEquals("disconnected", browser.text("#connection"));
    assertNoReload();
  }
}
