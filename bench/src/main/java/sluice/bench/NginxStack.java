package sluice.bench;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The proxy floor: Debian's nginx as a plain process (master + one worker) on loopback in front of the same mock-llm
 * as the direct path, with keep-alive to the upstream and no response buffering, so SSE events pass through as they
 * come. What any proxy must cost at least, measured with the same client and the same CPU accounting.
 */
final class NginxStack implements Stack {
  static final Path BINARY = Path.of("/usr/sbin/nginx");

  private final DirectStack mock;
  private final Process nginx;
  private final URI base;

  private NginxStack(DirectStack mock, Process nginx, URI base) {
    this.mock = mock;
    this.nginx = nginx;
    this.base = base;
  }

  /**
   * nginx's whole config: everything it writes goes under {@code dir}, nothing under /etc or /var.
   *
   * @param connections client connections the worker must hold at once; each also holds one to mock-llm
   */
  static String config(Path dir, int port, int upstreamPort, int connections) {
    // Upstream connections count too, and so do the idle ones nginx keeps from the earlier rows (client and upstream):
    // with 2 x 10,064 + 256 it logged "worker_connections are not enough, reusing connections" beside 10,000 streams.
    int workerConnections = Math.max(1024, 2 * connections + 1024);
    return """
        daemon off;
        master_process on;
        worker_processes 1;
        worker_rlimit_nofile %d;
        error_log %s warn;
        pid %s;
        events {
          worker_connections %d;
        }
        http {
          access_log off;
          client_body_temp_path %s;
          proxy_temp_path %s;
          fastcgi_temp_path %s;
          uwsgi_temp_path %s;
          scgi_temp_path %s;
          upstream mock_llm {
            server 127.0.0.1:%d;
            keepalive %d;
            keepalive_requests 1000000;
          }
          server {
            listen 127.0.0.1:%d backlog=4096;
            keepalive_requests 1000000;
            location / {
              proxy_pass http://mock_llm;
              proxy_http_version 1.1;
              proxy_set_header Connection "";
              # SSE: each event goes to the client as it comes.
              proxy_buffering off;
              proxy_read_timeout 300s;
            }
          }
        }
        """.formatted(workerConnections + 64, dir.resolve("error.log"), dir.resolve("nginx.pid"), workerConnections,
        dir.resolve("client_body"), dir.resolve("proxy"), dir.resolve("fastcgi"), dir.resolve("uwsgi"),
        dir.resolve("scgi"), upstreamPort, Math.max(64, connections), port);
  }

  /** Installs nginx when it is missing and this runs as root; else an IOException that says why it cannot run. */
  static void ensureInstalled(Path log) throws IOException, InterruptedException {
    if (Files.isExecutable(BINARY)) return;
    String uid = Processes.output(List.of("id", "-u"), Map.of());
    if (!uid.equals("0")) throw new IOException(BINARY + " is missing (apt-get install nginx-light, as root)");
    for (String pkg : List.of("nginx-light", "nginx")) {
      Process p = Processes.start(List.of("apt-get", "install", "-y", "--no-install-recommends", pkg),
          Map.of("DEBIAN_FRONTEND", "noninteractive"), log);
      p.waitFor();
      if (Files.isExecutable(BINARY)) return;
    }
    throw new IOException(BINARY + " is missing and apt-get install nginx-light / nginx did not install it:\n"
        + Processes.tail(log, 10));
  }

  static NginxStack start(Path home, Path work, List<String> mockArgs, int connections) throws IOException, InterruptedException {
    Path dir = work.resolve("nginx");
    Files.createDirectories(dir);
    ensureInstalled(dir.resolve("apt-get.log"));
    DirectStack mock = DirectStack.start(home, dir, mockArgs);
    Process nginx = null;
    try {
      int port = Processes.freePort();
      Path conf = dir.resolve("nginx.conf");
      Files.writeString(conf, config(dir, port, mock.baseUri().getPort(), connections));
      Path log = dir.resolve("nginx.log");
      // -e: the error log before the config is read (else nginx opens /var/log/nginx/error.log first).
      nginx = Processes.start(List.of(BINARY.toString(), "-p", dir.toString(), "-e", dir.resolve("error.log").toString(),
          "-c", conf.toString()), Map.of(), log);
      NginxStack s = new NginxStack(mock, nginx, URI.create("http://127.0.0.1:" + port));
      s.awaitUp(log);
      return s;
    } catch (IOException | InterruptedException | RuntimeException e) {
      Processes.stop(nginx, Duration.ofSeconds(10));
      mock.close();
      throw e;
    }
  }

  private void awaitUp(Path log) throws IOException, InterruptedException {
    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    var http = Api.client();
    while (System.nanoTime() < until) {
      if (!nginx.isAlive()) {
        throw new IOException("nginx exited:\n" + Processes.tail(log, 10) + "\n" + Processes.tail(log.resolveSibling("error.log"), 10));
      }
      try {
        Api.get(http, base.resolve("/health"), null);
        return;
      } catch (IOException notYet) {
        Thread.sleep(100);
      }
    }
    throw new IOException("nginx did not answer in 30 s:\n" + Processes.tail(log.resolveSibling("error.log"), 10));
  }

  @Override public String path() {
    return "nginx";
  }

  @Override public URI baseUri() {
    return base;
  }

  @Override public Map<Long, String> owners(ProcSnapshot snapshot) {
    Map<Long, String> owners = new HashMap<>(mock.owners(snapshot));
    owners.put(nginx.pid(), CpuUse.NGINX);
    for (long pid : snapshot.descendantsOf(nginx.pid())) owners.put(pid, CpuUse.NGINX);
    return owners;
  }

  /** SIGTERM to the master is nginx's fast shutdown; then mock-llm. */
  @Override public void close() {
    Processes.stop(nginx, Duration.ofSeconds(10));
    mock.close();
  }
}
