package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.OutputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * The data folder on a small tmpfs (mounting one needs root, hence the name: {@code bin/sluice test --no-hpc} leaves
 * these tests out), filled up under a running gateway with requests coming, and freed again: once less than
 * {@code sluice.storage.min-free-space} is left, requests get a bounded 503 {@code storage_unavailable} and
 * {@code /ready} is false; once space is back the same process serves and records again, with no restart, and no
 * served request lost its usage record.
 */
@Timeout(300)
class DiskFullRootIT {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();
  /** The longest any request may take while the disk is full: a bounded answer, not a hang. */
  private static final Duration BOUND = Duration.ofSeconds(8);

  private Path mount;

  @AfterEach void unmount() throws Exception {
    if (mount != null) run("umount", "-l", mount.toString());
  }

  @Test void aFillingDiskGives503AndNotReadyThenRecoversWithoutARestart() throws Exception {
    serveThroughAFullDisk("8m", 4 * 1024 * 1024);               // below the 8 MiB the gateway keeps free
  }

  private void serveThroughAFullDisk(String minFreeSpace, long leave) throws Exception {
    Path dir = Files.createTempDirectory("sluice-disk-full");
    mount = dir.resolve("data");
    Files.createDirectories(mount);
    run("mount", "-t", "tmpfs", "-o", "size=32m,mode=0700", "tmpfs", mount.toString());
    EmbeddedStack.writeAgentConfig(dir);
    var config = EmbeddedStack.config(dir, """
        sluice.services.slow.min-replicas = 0
        sluice.clusters.local.cancel-jobs-on-shutdown = on
        sluice.storage { probe-interval = 500ms, min-free-space = %s }
        """.formatted(minFreeSpace));
    int management = config.getInt("sluice.management.port");
    try (Gateway gateway = Gateway.start(config)) {
      EmbeddedStack.awaitReady(gateway, "mock-llm");
      int served = 0;
      assertEquals(200, chat(gateway).statusCode());
      served++;
      assertEquals(200, ready(management));

      // Requests keep coming while the disk fills, so that journal writes (the user's counters) fail mid-flight too.
      List<Answer> background = java.util.Collections.synchronizedList(new ArrayList<>());
      java.util.concurrent.atomic.AtomicBoolean loading = new java.util.concurrent.atomic.AtomicBoolean(true);
      Thread load = new Thread(() -> {
        while (loading.get()) {
          try {
            background.add(chat(gateway));
          } catch (Exception e) {
            background.add(new Answer(-1, JSON.getNodeFactory().textNode(e.toString()), -1, Duration.ZERO));
          }
        }
      }, "load");
      load.start();
      Path filler = mount.resolve("filler");
      fill(filler, leave);
      List<String> answers = new ArrayList<>();
      long faultStart = System.nanoTime();
      Answer refused = Await.until(Duration.ofSeconds(60), "a 503 storage_unavailable while the disk is full", () -> {
        Answer a = chat(gateway);
        answers.add(a.toString());
        return a;
      }, a -> a.statusCode() == 503);
      Duration toRefusal = Duration.ofNanos(System.nanoTime() - faultStart);
      loading.set(false);
      load.join(30_000);
      for (String a : answers) if (a.startsWith("200")) served++;
      for (Answer a : background) {
        assertTrue(a.statusCode() == 200 || a.statusCode() == 503, "served or refused as storage_unavailable: " + a);
        assertTrue(a.took().compareTo(BOUND) < 0, "a bounded answer: " + a);
        if (a.statusCode() == 200) served++;
      }
      assertEquals("storage_unavailable", refused.body().at("/error/code").asText(), refused.toString());
      assertTrue(refused.retryAfter() > 0, "Retry-After: " + refused);
      Await.until(Duration.ofSeconds(10), "/ready to turn false", () -> ready(management), s -> s != 200);
      for (int i = 0; i < 5; i++) {                       // every answer meanwhile is a prompt 503, none hangs
        Answer a = chat(gateway);
        assertEquals(503, a.statusCode(), a.toString());
        assertTrue(a.took().compareTo(BOUND) < 0, "answered in " + a.took());
      }

      Files.delete(filler);
      long freed = System.nanoTime();
      Await.until(Duration.ofSeconds(90), "requests to be served again once space is back", () -> {
        Answer a = chat(gateway);
        return a;
      }, a -> a.statusCode() == 200);
      served++;
      Duration toRecovery = Duration.ofNanos(System.nanoTime() - freed);
      Await.until(Duration.ofSeconds(30), "/ready to turn true again", () -> ready(management), s -> s == 200);
      assertEquals(200, chat(gateway).statusCode());
      served++;

      int expected = served;
      JsonNode usage = Await.until(Duration.ofSeconds(30), "a usage record for every served request",
          () -> JSON.readTree(admin(gateway, "/admin/usage?user=test").body()),
          u -> u.at("/totals/requests").asInt() - u.at("/totals/failed_requests").asInt() == expected);
      System.out.printf("disk full (reserve " + minFreeSpace + "): first 503 after %d ms (%d answers before it, %d from the background load), recovered %d"
          + " ms after space was freed; %d served requests, usage %s%n", toRefusal.toMillis(), answers.size() - 1,
          background.size(), toRecovery.toMillis(), served, usage.get("totals"));
    }
  }

  /**
   * A data folder the gateway cannot write (a read-only mount, which even root cannot write) is refused at start with
   * a message that names it, and a non-zero exit, instead of a gateway that says it is ready and never serves.
   */
  @Test void aReadOnlyDataFolderIsRefusedAtStart() throws Exception {
    Path dir = Files.createTempDirectory("sluice-read-only");
    mount = dir.resolve("data");
    Files.createDirectories(mount);
    run("mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", mount.toString());
    EmbeddedStack.writeAgentConfig(dir);
    int port = EmbeddedStack.freePort();
    Path config = dir.resolve("gateway.conf");
    Files.writeString(config, """
        sluice {
          data-dir = "%s"
          http.port = %d
          management.port = %d
          auth.api-keys = [{ name = "test", key = "%s" }]
          clusters.local { transport = local, local.agent-config = "%s" }
          services.mock-llm.cluster = local
        }
        """.formatted(mount, port, EmbeddedStack.freePort(), EmbeddedStack.API_KEY, dir.resolve("agent.json")));
    GatewayProcess gateway = new GatewayProcess(config, dir.resolve("gateway.log"), port).launch();
    try {
      // Before: it logged "Sluice listening", answered /ready with 200 and failed every request, and never exited.
      Await.until(Duration.ofSeconds(60), "the gateway to refuse the read-only data folder and exit", () -> !gateway.isAlive());
      String log = Files.readString(gateway.log());
      assertTrue(log.contains("the data folder " + mount + " (sluice.data-dir, SLUICE_DATA_DIR) is not writable"), log);
      assertTrue(log.contains("Read-only file system"), log);
      assertEquals(1, gateway.exitCode(), log);
    } finally {
      gateway.close();
    }
  }

  /** The journal's files are the owner's only: usage records and key digests are nobody else's business. */
  @Test void theDatabaseFilesAreOwnerOnly() throws Exception {
    Path dir = Files.createTempDirectory("sluice-owner-only");
    EmbeddedStack.writeAgentConfig(dir);
    var config = EmbeddedStack.config(dir, "sluice.services.slow.min-replicas = 0\nsluice.services.mock-llm.min-replicas = 0");
    try (Gateway gateway = Gateway.start(config)) {
      Path db = dir.resolve("data/sluice.mv.db");
      assertTrue(Files.isRegularFile(db), "the H2 file is at " + db);
      assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(db)));
      assertEquals("rwx------", java.nio.file.attribute.PosixFilePermissions.toString(
          Files.getPosixFilePermissions(dir.resolve("data"))));
    }
  }

  /** Writes until at most {@code leave} bytes are free (0: until the file system refuses). */
  private static void fill(Path filler, long leave) throws IOException {
    var store = Files.getFileStore(filler.getParent());
    try (OutputStream out = Files.newOutputStream(filler)) {
      for (int block : new int[] {64 * 1024, 512}) {
        byte[] bytes = new byte[block];
        while (store.getUsableSpace() >= leave + block) out.write(bytes);
      }
      if (leave == 0) out.write(new byte[512]);          // the last bytes: fails with "No space left on device"
    } catch (IOException full) {
      if (leave > 0) throw full;
    }
  }

  record Answer(int statusCode, JsonNode body, long retryAfter, Duration took) {
    @Override public String toString() { return statusCode + " " + body + " in " + took.toMillis() + " ms"; }
  }

  private static Answer chat(Gateway g) throws Exception {
    long t0 = System.nanoTime();
    HttpResponse<String> r = HTTP.send(HttpRequest.newBuilder(URI.create(g.baseUrl() + "/v1/chat/completions"))
        .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(Duration.ofSeconds(20))
        .POST(HttpRequest.BodyPublishers.ofString(
            "{\"model\":\"mock-llm\",\"max_tokens\":2,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
        HttpResponse.BodyHandlers.ofString());
    JsonNode body;
    try {
      body = JSON.readTree(r.body());
    } catch (IOException e) {
      body = JSON.getNodeFactory().textNode(r.body());
    }
    return new Answer(r.statusCode(), body, r.headers().firstValueAsLong("retry-after").orElse(-1),
        Duration.ofNanos(System.nanoTime() - t0));
  }

  private static HttpResponse<String> admin(Gateway g, String path) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create(g.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).timeout(Duration.ofSeconds(20)).build(),
        HttpResponse.BodyHandlers.ofString());
  }

  private static int ready(int port) throws Exception {
    return HTTP.send(HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/ready"))
        .timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes());
    if (p.waitFor() != 0) {
      throw new AssertionError(String.join(" ", cmd) + " failed (this test needs root to mount a tmpfs): " + out);
    }
  }
}
