package sluice.bench;

import java.net.URI;
import java.util.Map;
import java.util.Optional;

/** One path under test, running: where to send requests and which processes belong to which component. */
interface Stack extends AutoCloseable {
  /** "direct", "nginx", "embedded", "limited" or "ssh". */
  String path();

  /** {@code http://127.0.0.1:<port>}: the OpenAI API of the gateway, or mock-llm itself on the direct path. */
  URI baseUri();

  /** The component each process of this path belongs to, the load generator (this JVM) included. */
  Map<Long, String> owners(ProcSnapshot snapshot);

  /** The model the path serves: mock-llm, or on the ssh path the sandbox's service sized for the bench. */
  default String model() {
    return Api.MODEL;
  }

  /** The gateway's Prometheus page ({@code /metrics} on its management port); empty on paths without a gateway. */
  default Optional<URI> metricsUri() {
    return Optional.empty();
  }

  /** How the path's gateway came up after its process start; empty on paths without a gateway. */
  default Optional<Startup.Launch> launch() {
    return Optional.empty();
  }

  /** Stops every process this path started, and cancels its jobs. */
  @Override void close();
}
