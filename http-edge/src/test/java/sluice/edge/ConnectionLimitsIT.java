package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * The API port under connections that send nothing, half a request head or a body that never ends, and from one
 * address more than its share: the gateway keeps serving everyone else, closes what idles after
 * {@code sluice.http.connections.*}, and never cuts a request in flight (SSE streams, silent generations).
 * Clients bind their sockets to other loopback addresses (127.0.0.0/8 all reaches this host) to come from several
 * addresses. Figures are printed as "measured: ...".
 *
 * <p>The head timeout is long (15 s) because all 2,000 idle connections must be open at once, and Pekko accepts one
 * connection per round trip through its TCP listener: on a loaded 2-core machine, 2,000 took 3.6 s to be accepted.
 */
@Timeout(300)
class ConnectionLimitsIT {
  static final Duration HEAD = Duration.ofSeconds(15);
  static final Duration IDLE = Duration.ofSeconds(2);
  static final Duration BODY = Duration.ofSeconds(2);
  static final int PER_ADDRESS = 50;
  /** Timers never fire early; this much slack covers the client's own measurement. */
  static final Duration EARLY = Duration.ofMillis(100);

  static Path dir;
  static Gateway gateway;
  static final ObjectMapper JSON = new ObjectMapper();

  @BeforeAll static void start() throws Exception {
    dir = Files.createTempDirectory("sluice-conn");
    EmbeddedStack.writeAgentConfig(dir);
    gateway = Gateway.start(EmbeddedStack.config(dir, """
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        sluice.http.connections {
          head-timeout = %ds
          idle-timeout = %ds
          body-timeout = %ds
          max-per-address = %d
        }
        """.formatted(HEAD.toSeconds(), IDLE.toSeconds(), BODY.toSeconds(), PER_ADDRESS)));
    EmbeddedStack.awaitReady(gateway, "mock-llm");
    EmbeddedStack.awaitReady(gateway, "slow");
  }

  @AfterAll static void stop() {
    if (gateway != null) gateway.close();
  }

  // ---------------------------------------------------------------- idle connections

  @Test void twoThousandIdleConnectionsLockNobodyOutAndAreClosedAfterTheHeadTimeout() throws Exception {
    int count = 2000;
    int addresses = count / 40;                     // 40 from each address: below the per-address cap
    try (Idle idle = new Idle()) {
      long opening = System.nanoTime();
      for (int i = 0; i < count; i++) {
        // Half of them send nothing, half send half a request head.
        idle.open("127.0.1." + (1 + i % addresses), i % 2 == 0 ? "" : "POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n");
      }
      Duration opened = Duration.ofNanos(System.nanoTime() - opening);

      long asked = System.nanoTime();
      Reply models = Raw.exchange("127.0.0.1", get("/v1/models"));
      Duration answered = Duration.ofNanos(System.nanoTime() - asked);
      long answeredAt = System.nanoTime();
      assertEquals(200, models.status(), models.body());
      // Its connection may wait in the kernel's accept queue behind idle ones the server has not accepted yet.
      assertTrue(answered.compareTo(Duration.ofSeconds(5)) < 0, "GET /v1/models took " + answered.toMillis() + " ms");

      assertEquals(0, idle.closedAfter().size(), "idle connections were closed before all " + count + " were open, "
          + "after " + idle.closedAfter() + "; opening took " + opened.toMillis() + " ms");
      idle.awaitAllClosed(HEAD.plusSeconds(30));
      Duration first = idle.closedAfter().stream().min(Duration::compareTo).orElseThrow();
      Duration last = idle.closedAfter().stream().max(Duration::compareTo).orElseThrow();
      System.out.printf(Locale.ROOT, "measured: %d idle connections opened in %d ms; GET /v1/models answered in %d ms "
              + "while they were open; the server closed them %d..%d ms after they were opened (head-timeout %d ms)%n",
          count, opened.toMillis(), answered.toMillis(), first.toMillis(), last.toMillis(), HEAD.toMillis());
      assertTrue(idle.earliestClose() > answeredAt, "an idle connection was closed before the request was answered");
      assertTrue(first.compareTo(HEAD.minus(EARLY)) >= 0, "closed before the head timeout: " + first.toMillis() + " ms");
      assertTrue(last.compareTo(HEAD.plusSeconds(15)) < 0, "still open long after the head timeout: " + last.toMillis() + " ms");
    }
  }

  @Test void aKeepAliveConnectionIsClosedAfterTheIdleTimeoutBetweenRequests() throws Exception {
    try (Socket s = Raw.connect("127.0.0.5")) {
      Raw.send(s, get("/v1/models").replace("Connection: close\r\n", ""));
      assertEquals(200, Raw.read(s).status());
      // A second request within the idle timeout is served on the same connection.
      Raw.send(s, get("/v1/models").replace("Connection: close\r\n", ""));
      assertEquals(200, Raw.read(s).status());
      long served = System.nanoTime();
      assertEquals(-1, s.getInputStream().read(), "the server sent more than the response");
      Duration idleFor = Duration.ofNanos(System.nanoTime() - served);
      System.out.printf(Locale.ROOT, "measured: an idle keep-alive connection was closed %d ms after its last response "
          + "(idle-timeout %d ms)%n", idleFor.toMillis(), IDLE.toMillis());
      assertTrue(idleFor.compareTo(IDLE.minus(EARLY)) >= 0, "closed after " + idleFor.toMillis() + " ms");
      assertTrue(idleFor.compareTo(IDLE.plusSeconds(5)) < 0, "closed after " + idleFor.toMillis() + " ms");
    }
  }

  // ---------------------------------------------------------------- per-address cap

  @Test void connectionsOverThePerAddressCapAreClosedAtOnceWhileOtherAddressesAreServed() throws Exception {
    String busy = "127.0.0.3";
    try (Idle idle = new Idle()) {
      for (int i = 0; i <= PER_ADDRESS; i++) idle.open(busy, "");
      // Exactly one of the PER_ADDRESS + 1 is over the cap, whichever the server counted last.
      idle.awaitClosed(1, Duration.ofSeconds(3));
      Duration refusedAfter = idle.closedAfter().get(0);
      assertTrue(refusedAfter.compareTo(Duration.ofSeconds(1)) < 0, "over-cap connection closed after " + refusedAfter.toMillis() + " ms");

      // While the address is at its cap, a request from it is refused; another address is served.
      long asked = System.nanoTime();
      Reply refused = Raw.exchange(busy, get("/v1/models"));
      Duration refusedIn = Duration.ofNanos(System.nanoTime() - asked);
      assertEquals(-1, refused.status(), "a request over the cap was answered: " + refused);
      assertTrue(refusedIn.compareTo(Duration.ofSeconds(1)) < 0, "refused after " + refusedIn.toMillis() + " ms");
      assertEquals(200, Raw.exchange("127.0.0.2", get("/v1/models")).status());

      // The ones within the cap are held like any idle connection (until the head timeout).
      idle.poll();
      assertEquals(1, idle.closedAfter().size(), "connections within the cap were closed: " + idle.closedAfter());
      System.out.printf(Locale.ROOT, "measured: connection %d from one address closed %d ms after it was opened; a request "
          + "from that address refused in %d ms%n", PER_ADDRESS + 1, refusedAfter.toMillis(), refusedIn.toMillis());
    }
    // Once the client has closed them, the address is served again.
    Await.until(Duration.ofSeconds(10), busy + " to be served again", () -> Raw.exchange(busy, get("/v1/models")).status() == 200);
  }

  // ---------------------------------------------------------------- request bodies

  @Test void aChunkedBodyThatNeverEndsIsAnswered408AndItsConnectionClosed() throws Exception {
    bodyThatNeverEnds("Transfer-Encoding: chunked\r\n", "10\r\n{\"model\":\"mock-l\r\n");
  }

  @Test void aBodyShorterThanItsContentLengthIsAnswered408AndItsConnectionClosed() throws Exception {
    bodyThatNeverEnds("Content-Length: 200\r\n", "{\"model\":\"mock-llm\",");
  }

  private void bodyThatNeverEnds(String framing, String part) throws Exception {
    try (Socket s = Raw.connect("127.0.0.4")) {
      long sent = System.nanoTime();
      Raw.send(s, "POST /v1/chat/completions HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + EmbeddedStack.API_KEY
          + "\r\nContent-Type: application/json\r\n" + framing + "\r\n" + part);
      Reply r = Raw.read(s);
      Duration after = Duration.ofNanos(System.nanoTime() - sent);
      boolean closed = Raw.closed(s);
      System.out.printf(Locale.ROOT, "measured: a body that never ends (%s) answered %d after %d ms (body-timeout %d ms), "
          + "connection closed: %s%n", framing.strip(), r.status(), after.toMillis(), BODY.toMillis(), closed);
      assertEquals(408, r.status(), r.toString());
      JsonNode error = JSON.readTree(r.body()).path("error");
      assertEquals("invalid_request_error", error.path("type").asText());
      assertEquals("body_timeout", error.path("code").asText());
      assertTrue(r.header("content-type").startsWith("application/json"), r.toString());
      assertEquals("close", r.header("connection"));
      assertTrue(closed, "the connection stayed open after the 408");
      assertTrue(after.compareTo(BODY.minus(EARLY)) >= 0, "answered after " + after.toMillis() + " ms");
      assertTrue(after.compareTo(BODY.plusSeconds(5)) < 0, "answered after " + after.toMillis() + " ms");
    }
  }

  // ---------------------------------------------------------------- requests in flight

  /** Both at once, as each must outlast the head timeout. */
  @Test void anSseStreamAndASilentGenerationLongerThanTheIdleAndHeadTimeoutsComplete() throws Exception {
    int tokens = (int) (HEAD.toMillis() / 700) + 3;                  // the slow service: 700 ms per token
    long start = System.nanoTime();
    var sse = newClient().sendAsync(post("""
        {"model":"slow","stream":true,"max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}""".formatted(tokens)),
        HttpResponse.BodyHandlers.ofLines()).thenApply(r -> {
          List<String> lines = r.body().toList();
          return new Finished<>(r.statusCode(), lines, Duration.ofNanos(System.nanoTime() - start));
        });
    var silent = newClient().sendAsync(post("""
        {"model":"slow","max_tokens":%d,"messages":[{"role":"user","content":"hi"}]}""".formatted(tokens)),
        HttpResponse.BodyHandlers.ofString())
        .thenApply(r -> new Finished<>(r.statusCode(), r.body(), Duration.ofNanos(System.nanoTime() - start)));

    Finished<List<String>> stream = sse.get(120, TimeUnit.SECONDS);
    long keepAlives = stream.body().stream().filter(l -> l.startsWith(": keep-alive")).count();
    long chunks = stream.body().stream().filter(l -> l.startsWith("data: {")).count();
    Finished<String> generation = silent.get(120, TimeUnit.SECONDS);
    System.out.printf(Locale.ROOT, "measured: an SSE stream of %d chunks and %d keep-alives lasted %d ms; a non-streaming "
            + "generation answered %d after %d ms of silence (head-timeout %d ms, idle-timeout %d ms)%n", chunks, keepAlives,
        stream.took().toMillis(), generation.status(), generation.took().toMillis(), HEAD.toMillis(), IDLE.toMillis());

    assertEquals(200, stream.status());
    assertEquals("data: [DONE]", stream.body().stream().filter(l -> l.startsWith("data:")).reduce((a, b) -> b).orElse(""));
    assertTrue(chunks >= tokens, "chunks: " + chunks);
    assertTrue(stream.took().compareTo(HEAD) > 0, "the stream was too short to prove anything: " + stream.took().toMillis() + " ms");
    assertEquals(200, generation.status(), generation.body());
    assertEquals(tokens, JSON.readTree(generation.body()).path("usage").path("completion_tokens").asInt());
    assertTrue(generation.took().compareTo(HEAD) > 0, "the generation was too short to prove anything: " + generation.took().toMillis() + " ms");
  }

  record Finished<T>(int status, T body, Duration took) {}

  // ---------------------------------------------------------------- helpers

  /** A fresh client per request: a pooled connection could have been closed by the idle timeout in between. */
  static HttpClient newClient() {
    return HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  }

  static HttpRequest post(String body) {
    return HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions")).timeout(Duration.ofSeconds(60))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(body)).build();
  }

  static String get(String path) {
    return "GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer " + EmbeddedStack.API_KEY
        + "\r\nConnection: close\r\n\r\n";
  }

  /** A response as read off the socket; status -1 when the connection closed before a status line. */
  record Reply(int status, Map<String, String> headers, String body) {
    String header(String name) { return headers.getOrDefault(name, ""); }
  }

  /** HTTP/1.1 over a plain socket bound to a chosen local address; reads responses with a Content-Length or to EOF. */
  static final class Raw {
    static Socket connect(String localAddress) throws IOException {
      Socket s = new Socket();
      s.bind(new InetSocketAddress(localAddress, 0));
      s.connect(new InetSocketAddress("127.0.0.1", gateway.port()), 2000);
      s.setSoTimeout(15_000);
      return s;
    }

    static void send(Socket s, String text) throws IOException {
      OutputStream out = s.getOutputStream();
      out.write(text.getBytes(StandardCharsets.UTF_8));
      out.flush();
    }

    /** One request on a new connection from {@code localAddress}; a reset or EOF before the status line is status -1. */
    static Reply exchange(String localAddress, String request) throws IOException {
      try (Socket s = connect(localAddress)) {
        try {
          send(s, request);
        } catch (IOException e) {
          return new Reply(-1, Map.of(), e.toString());
        }
        return read(s);
      }
    }

    static Reply read(Socket s) throws IOException {
      InputStream in = s.getInputStream();
      String status;
      try {
        status = line(in);
      } catch (IOException e) {
        if (e instanceof java.net.SocketTimeoutException) throw e;
        return new Reply(-1, Map.of(), e.toString());                   // reset by the server
      }
      if (status == null) return new Reply(-1, Map.of(), "");
      Map<String, String> headers = new LinkedHashMap<>();
      for (String h = line(in); h != null && !h.isEmpty(); h = line(in)) {
        int colon = h.indexOf(':');
        headers.put(h.substring(0, colon).trim().toLowerCase(Locale.ROOT), h.substring(colon + 1).trim());
      }
      byte[] body;
      if (headers.containsKey("content-length")) {
        body = in.readNBytes(Integer.parseInt(headers.get("content-length")));
      } else {
        body = in.readAllBytes();
      }
      return new Reply(Integer.parseInt(status.split(" ")[1]), headers, new String(body, StandardCharsets.UTF_8));
    }

    /** True when the server closes the connection (EOF or reset) within the socket's read timeout. */
    static boolean closed(Socket s) throws IOException {
      try {
        return s.getInputStream().read() == -1;
      } catch (java.net.SocketTimeoutException e) {
        return false;
      } catch (IOException e) {
        return true;
      }
    }

    private static String line(InputStream in) throws IOException {
      ByteArrayOutputStream b = new ByteArrayOutputStream();
      for (int c = in.read(); c != '\n'; c = in.read()) {
        if (c == -1) return b.size() == 0 ? null : b.toString(StandardCharsets.UTF_8);
        if (c != '\r') b.write(c);
      }
      return b.toString(StandardCharsets.UTF_8);
    }
  }

  /** Connections that send nothing (or a fixed prefix) and are watched with one selector until the server closes them. */
  static final class Idle implements AutoCloseable {
    private final Selector selector = Selector.open();
    private final List<SocketChannel> channels = new ArrayList<>();
    private final List<Long> openedAt = new ArrayList<>();
    private final Map<Integer, Long> closedAt = new LinkedHashMap<>();
    private final ByteBuffer scratch = ByteBuffer.allocate(4096);

    Idle() throws IOException {}

    void open(String localAddress, String prefix) throws IOException {
      SocketChannel ch = SocketChannel.open();
      ch.bind(new InetSocketAddress(localAddress, 0));
      try {
        ch.socket().connect(new InetSocketAddress("127.0.0.1", gateway.port()), 2000);
      } catch (IOException e) {
        ch.close();
        throw new AssertionError("connection " + (channels.size() + 1) + " from " + localAddress + " could not be opened: " + e, e);
      }
      openedAt.add(System.nanoTime());
      if (!prefix.isEmpty()) ch.write(ByteBuffer.wrap(prefix.getBytes(StandardCharsets.UTF_8)));
      ch.configureBlocking(false);
      ch.register(selector, SelectionKey.OP_READ, channels.size());
      channels.add(ch);
      poll();                                         // so that a close is timed when it happens, not when looked for
    }

    /** Records the connections the server has closed (EOF or reset) by now. */
    void poll() throws IOException {
      selector.selectNow();
      record();
    }

    private void record() {
      for (SelectionKey key : selector.selectedKeys()) {
        SocketChannel ch = (SocketChannel) key.channel();
        int read;
        try {
          scratch.clear();
          read = ch.read(scratch);
        } catch (IOException e) {
          read = -1;
        }
        if (read == -1) {
          closedAt.put((Integer) key.attachment(), System.nanoTime());
          key.cancel();
        }
      }
      selector.selectedKeys().clear();
    }

    void awaitAllClosed(Duration timeout) throws Exception { awaitClosed(channels.size(), timeout); }

    /** Waits until {@code n} connections have been closed by the server (EOF or reset). */
    void awaitClosed(int n, Duration timeout) throws Exception {
      Await.until(timeout, n + " connections closed by the server", () -> {
        selector.select(50);
        record();
        return closedAt.size();
      }, closed -> closed >= n);
    }

    /** How long after its opening each closed connection was closed, in the order they closed. */
    List<Duration> closedAfter() {
      return closedAt.entrySet().stream().map(e -> Duration.ofNanos(e.getValue() - openedAt.get(e.getKey()))).toList();
    }

    long earliestClose() { return closedAt.values().stream().mapToLong(Long::longValue).min().orElseThrow(); }

    @Override public void close() throws IOException {
      for (SocketChannel ch : channels) ch.close();
      selector.close();
    }
  }
}
