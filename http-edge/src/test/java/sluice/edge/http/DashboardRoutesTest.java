package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.http.javadsl.Http;
import org.apache.pekko.http.javadsl.ServerBinding;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The dashboard's files as a browser gets them: a fixed list, with the headers that keep the page safe and cached. */
class DashboardRoutesTest {
  static ActorSystem<Void> system;
  static ServerBinding binding;
  static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll static void start() throws Exception {
    system = ActorSystem.create(Behaviors.empty(), "dashboard-routes-test",
        ConfigFactory.parseString("pekko.loglevel = WARNING").withFallback(ConfigFactory.defaultReference()));
    DashboardRoutes routes = new DashboardRoutes(() -> Source.single(ByteString.fromString("event: state\ndata: {}\n\n")));
    binding = Http.get(system).newServerAt("127.0.0.1", 0).bind(concat(routes.page(), pathPrefix("admin", routes::events)))
        .toCompletableFuture().get(10, TimeUnit.SECONDS);
  }

  @AfterAll static void stop() { system.terminate(); }

  private static HttpResponse<byte[]> get(String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + binding.localAddress().getPort() + path))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  private static String header(HttpResponse<?> r, String name) { return r.headers().firstValue(name).orElse(""); }

  private static void assertSafetyHeaders(HttpResponse<?> r) {
    String csp = header(r, "content-security-policy");
    assertTrue(csp.contains("default-src 'none'") && csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"), csp);
    assertEquals("nosniff", header(r, "x-content-type-options"));
    assertEquals("no-referrer", header(r, "referrer-policy"));
  }

  @Test void thePageIsServedWithoutAKeyWithoutInlineScriptAndIsNeverCachedStale() throws Exception {
    HttpResponse<byte[]> r = get("/dashboard");
    String html = new String(r.body(), StandardCharsets.UTF_8);

    assertEquals(200, r.statusCode());
    assertEquals("text/html; charset=UTF-8", header(r, "content-type"));
    assertSafetyHeaders(r);
    assertEquals("no-cache", header(r, "cache-control"));
    assertFalse(Pattern.compile("<script(?![^>]*\\ssrc=)").matcher(html).find(), "every script has a src: " + html);
    assertFalse(Pattern.compile("\\s(on[a-z]+|style)=").matcher(html).find(), "no inline handlers or styles");
    assertEquals(200, get("/dashboard/").statusCode());
  }

  @Test void theAssetsAreServedWithTheirTypeForAYearUnderAHashOfTheirContent() throws Exception {
    String html = new String(get("/dashboard").body(), StandardCharsets.UTF_8);
    for (String[] asset : List.of(new String[] {"dashboard.js", "application/javascript; charset=UTF-8"},
        new String[] {"dashboard.css", "text/css; charset=UTF-8"}, new String[] {"favicon.svg", "image/svg+xml"})) {
      Matcher m = Pattern.compile("\"(/dashboard/" + Pattern.quote(asset[0]) + ")\\?v=([0-9a-f]{12})\"").matcher(html);
      assertTrue(m.find(), asset[0] + " is referenced with its hash: " + html);
      HttpResponse<byte[]> r = get(m.group(1) + "?v=" + m.group(2));
      assertEquals(200, r.statusCode(), asset[0]);
      assertEquals(asset[1], header(r, "content-type"));
      assertEquals("public, max-age=31536000, immutable", header(r, "cache-control"));
      assertSafetyHeaders(r);
      String hash = HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(r.body())).substring(0, 12);
      assertEquals(hash, m.group(2), "a changed file gets a new URL, so a year's caching never serves an old one");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"/dashboard/unknown.js", "/dashboard/index.html", "/dashboard/DASHBOARD.JS", "/dashboard/dashboard.js/x",
      "/dashboard/%2e%2e%2fapplication.conf", "/dashboard/..%2freference.conf", "/dashboardx"})
  void anythingElseIsNotFound(String path) throws Exception {
    assertEquals(404, get(path).statusCode(), path);
  }

  @ParameterizedTest
  @ValueSource(strings = {"/dashboard/../reference.conf", "/dashboard/..", "/dashboard/./dashboard.js/../../application.conf"})
  void dotSegmentsSentAsTheyAreFindNothing(String path) throws Exception {
    try (Socket s = new Socket("127.0.0.1", binding.localAddress().getPort())) {
      s.setSoTimeout(10_000);
      OutputStream out = s.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      String answer = read(s.getInputStream());
      assertTrue(answer.startsWith("HTTP/1.1 404"), path + " -> " + answer);
    }
  }

  private static String read(InputStream in) throws IOException { return new String(in.readAllBytes(), StandardCharsets.ISO_8859_1); }

  @Test void theEventStreamIsServerSentEventsThatNothingCaches() throws Exception {
    HttpResponse<byte[]> r = get("/admin/dashboard/events");

    assertEquals(200, r.statusCode());
    assertEquals("text/event-stream", header(r, "content-type"));
    assertEquals("no-store", header(r, "cache-control"));
    assertEquals("event: state\ndata: {}\n\n", new String(r.body(), StandardCharsets.UTF_8));
  }
}
