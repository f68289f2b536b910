package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;

class NginxStackTest {
  @Test void configKeepsEverythingInItsFolderAndStreamsUnbuffered() {
    String conf = NginxStack.config(Path.of("/tmp/run/nginx"), 8081, 9091, 1000);
    for (String line : new String[] {"daemon off;", "master_process on;", "worker_processes 1;",
        "error_log /tmp/run/nginx/error.log warn;", "pid /tmp/run/nginx/nginx.pid;",
        "client_body_temp_path /tmp/run/nginx/client_body;", "proxy_temp_path /tmp/run/nginx/proxy;",
        "server 127.0.0.1:9091;", "listen 127.0.0.1:8081", "proxy_http_version 1.1;", "proxy_set_header Connection \"\";",
        "proxy_buffering off;", "keepalive 1000;"}) {
      assertTrue(conf.contains(line), line + " in\n" + conf);
    }
  }

  @Test void aWorkerHoldsBothSidesOfEveryStream() {
    // 1,000 client connections and 1,000 to mock-llm, plus room for the probe and the other rows.
    assertTrue(NginxStack.config(Path.of("/t"), 1, 2, 1000).contains("worker_connections 3024;"));
    assertTrue(NginxStack.config(Path.of("/t"), 1, 2, 10).contains("worker_connections 1044;"));
  }
}
