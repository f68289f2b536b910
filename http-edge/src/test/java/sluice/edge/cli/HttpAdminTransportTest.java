package sluice.edge.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The HTTP transport against a local server: what reaches the wire, and what comes back. */
class HttpAdminTransportTest {
  record Seen(String method, String rawPath, String rawQuery, String authorization, String contentType, String body) {}

  static final ObjectMapper JSON = new ObjectMapper();
  HttpServer server;
  final AtomicReference<Seen> seen = new AtomicReference<>();
  volatile int status = 200;
  volatile String contentType = "application/json";
  volatile String answer = "{\"ok\":true}";

  @BeforeEach void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext("/", ex -> {
      String body = new String(ex.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
      seen.set(new Seen(ex.getRequestMethod(), ex.getRequestURI().getRawPath(), ex.getRequestURI().getRawQuery(),
          ex.getRequestHeaders().getFirst("Authorization"), ex.getRequestHeaders().getFirst("Content-Type"), body));
      byte[] bytes = answer.getBytes(StandardCharsets.UTF_8);
      ex.getResponseHeaders().add("Content-Type", contentType);
      ex.sendResponseHeaders(status, bytes.length);
      ex.getResponseBody().write(bytes);
      ex.close();
    });
    server.start();
  }

  @AfterEach void stop() { server.stop(0); }

  URI base() { return URI.create("http://127.0.0.1:" + server.getAddress().getPort()); }

  @Test void aJsonBodyGoesWithTheAdminKeyAsBearer() throws Exception {
    var t = new HttpAdminTransport(base(), "admin-0123456789abcdef");
    var resp = t.send(AdminTransport.Request.of("POST", "/admin/users", JSON.readTree("{\"id\":\"alice\",\"groups\":[\"staff\"]}")));
    Seen s = seen.get();
    assertEquals("POST", s.method());
    assertEquals("/admin/users", s.rawPath());
    assertNull(s.rawQuery());
    assertEquals("Bearer admin-0123456789abcdef", s.authorization());
    assertEquals("application/json", s.contentType());
    assertEquals(JSON.readTree("{\"id\":\"alice\",\"groups\":[\"staff\"]}"), JSON.readTree(s.body()));
    assertEquals(new AdminTransport.Response(200, "application/json", "{\"ok\":true}"), resp);
  }

  @Test void queryValuesAreEncodedAndAPathPrefixIsKept() throws Exception {
    var t = new HttpAdminTransport(URI.create(base() + "/sluice/"), "k-0123456789abcdef");
    Map<String, String> q = new LinkedHashMap<>();
    q.put("user", "a+b@example.org");
    q.put("from", "2026-11-01T00:00:00Z");
    t.send(new AdminTransport.Request("GET", "/admin/usage", q, null));
    Seen s = seen.get();
    assertEquals("GET", s.method());
    assertEquals("/sluice/admin/usage", s.rawPath());
    assertEquals("user=a%2Bb%40example.org&from=2026-11-01T00%3A00%3A00Z", s.rawQuery());
    assertEquals("", s.body());
    assertNull(s.contentType());
  }

  @Test void anErrorStatusComesBackAsAnAnswer() throws Exception {
    status = 404;
    answer = "{\"error\":{\"message\":\"No key 'key_x'\",\"type\":\"invalid_request_error\",\"param\":null,\"code\":\"key_not_found\"}}";
    var resp = new HttpAdminTransport(base(), "k-0123456789abcdef").send(AdminTransport.Request.of("DELETE", "/admin/keys/key_x", null));
    assertEquals("DELETE", seen.get().method());
    assertEquals(404, resp.status());
    assertEquals(answer, resp.body());
  }

  @Test void theCliOverHttpPrintsCsvAsItComes() {
    contentType = "text/csv";
    answer = "ts,user\r\n2026-11-01T00:00:01Z,alice\r\n";
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int exit = AdminCli.run(new String[] {"--url", base().toString(), "usage", "--user", "alice", "--csv"},
        new AdminCli.Context(Map.of("SLUICE_ADMIN_KEY", "admin-0123456789abcdef"), new PrintWriter(out), new PrintWriter(err),
            Clock.systemUTC(), HttpAdminTransport::new));
    assertEquals(0, exit, err.toString());
    assertEquals("user=alice&format=csv", seen.get().rawQuery());
    assertEquals(answer, out.toString());
  }

  @Test void aClosedPortIsReportedAsUnreachable() throws IOException {
    int port;
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = s.getLocalPort();
    }
    StringWriter err = new StringWriter();
    int exit = AdminCli.run(new String[] {"users", "list"}, new AdminCli.Context(
        Map.of("SLUICE_ADMIN_KEY", "admin-0123456789abcdef", "SLUICE_URL", "http://127.0.0.1:" + port),
        new PrintWriter(new StringWriter()), new PrintWriter(err), Clock.systemUTC(), HttpAdminTransport::new));
    assertEquals(1, exit);
    assertEquals("sluice admin: cannot reach the gateway at http://127.0.0.1:" + port + " (connection refused)\n", err.toString());
  }
}
