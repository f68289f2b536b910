package sluice.core.metrics;

import io.prometheus.metrics.core.metrics.Counter;
import io.prometheus.metrics.core.metrics.Gauge;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Extension;
import org.apache.pekko.actor.typed.ExtensionId;

/**
 * Every Sluice metric of one gateway node, in that node's own Prometheus registry (one per actor system, so tests that
 * run several nodes in one JVM keep them apart). Exported at {@code /metrics} on the management port; docs/operations.md
 * lists them with their meaning and the alerts worth setting.
 *
 * <p>Labels are bounded: models and HPC clusters are configured names, endpoints a fixed set, statuses and outcomes
 * fixed codes, jobs only while they live (their series is removed when they end). No request id and no user id
 * ({@code sluice.metrics.user-label} adds the per-user token counter, off by default).
 *
 * <p>On the hot path, look a data point up once with {@code labelValues(...)} and keep it ({@code RouteMeters} does):
 * a kept counter costs nanoseconds, a lookup allocates.
 */
public final class SluiceMetrics implements Extension {
  /** Seconds: from a millisecond (a local answer's first token) to ten minutes (a long generation). */
  private static final double[] LATENCY = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60,
      120, 300, 600};
  /** Seconds between two tokens of one stream. */
  private static final double[] INTER_TOKEN = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5};
  /** Seconds from a job's submission to its replica taking requests: a model loads for minutes, a queue waits hours. */
  private static final double[] STARTUP = {5, 10, 20, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 14400, 43200, 86400};
  /** Seconds of a round trip to the agent, or of a usage batch insert. */
  private static final double[] SHORT = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

  public static final ExtensionId<SluiceMetrics> ID = new ExtensionId<>() {
    @Override public SluiceMetrics createExtension(ActorSystem<?> system) {
      return new SluiceMetrics(system.settings().config().hasPath("sluice.metrics.user-label")
          && system.settings().config().getBoolean("sluice.metrics.user-label"));
    }
  };

  public static SluiceMetrics get(ActorSystem<?> system) { return ID.apply(system); }

  public final PrometheusRegistry registry = new PrometheusRegistry();

  // ---------------------------------------------------------------- requests (the edge of the node that took them)
  public final Counter requests = Counter.builder().name("sluice_requests_total")
      .help("Finished requests on the OpenAI API by model, endpoint, HTTP status and outcome (ok, an error code, "
          + "client_disconnected)")
      .labelNames("model", "endpoint", "status", "outcome").register(registry);
  public final Histogram requestDuration = Histogram.builder().name("sluice_request_duration_seconds")
      .help("From the request's arrival until its response ended")
      .labelNames("model", "endpoint").classicOnly().classicUpperBounds(LATENCY).register(registry);
  public final Histogram timeToFirstToken = Histogram.builder().name("sluice_time_to_first_token_seconds")
      .help("From the request's arrival until the first token reached the client")
      .labelNames("model").classicOnly().classicUpperBounds(LATENCY).register(registry);
  public final Histogram interToken = Histogram.builder().name("sluice_inter_token_seconds")
      .help("Time between two consecutive token events of a stream")
      .labelNames("model").classicOnly().classicUpperBounds(INTER_TOKEN).register(registry);
  public final Counter tokens = Counter.builder().name("sluice_tokens_total")
      .help("Tokens of finished requests by model and type (prompt, completion)")
      .labelNames("model", "type").register(registry);
  public final Gauge inflight = Gauge.builder().name("sluice_inflight_requests")
      .help("Requests this node admitted that have not finished, by model")
      .labelNames("model").register(registry);
  public final Counter rateLimitRefusals = Counter.builder().name("sluice_ratelimit_refusals_total")
      .help("Requests refused by a user's or key's limit, by model and kind (requests, tokens, concurrency, budget)")
      .labelNames("model", "kind").register(registry);
  /** Only with {@code sluice.metrics.user-label = on}; null otherwise. */
  public final Counter userTokens;

  // ---------------------------------------------------------------- services (the node hosting the service actor)
  public final Gauge queued = Gauge.builder().name("sluice_queued_requests")
      .help("Requests waiting in the service's queue for a replica").labelNames("model").register(registry);
  public final Histogram queueWait = Histogram.builder().name("sluice_queue_wait_seconds")
      .help("How long a request waited in the service's queue before it got a replica")
      .labelNames("model").classicOnly().classicUpperBounds(LATENCY).register(registry);
  public final Gauge replicas = Gauge.builder().name("sluice_replicas")
      .help("The service's replicas by state (pending, starting, ready, draining, failing)")
      .labelNames("model", "state").register(registry);
  public final Counter jobEvents = Counter.builder().name("sluice_job_events_total")
      .help("Slurm job events by model and event (submitted, ready, renewed, drained, ended, and failed_<reason>)")
      .labelNames("model", "event").register(registry);
  public final Histogram jobStartup = Histogram.builder().name("sluice_job_startup_seconds")
      .help("From a job's submission until its replica took requests")
      .labelNames("model").classicOnly().classicUpperBounds(STARTUP).register(registry);
  public final Gauge jobTimeLeft = Gauge.builder().name("sluice_job_time_left_seconds")
      .help("Time until the Slurm time limit of each live job").labelNames("model", "job").register(registry);

  // ---------------------------------------------------------------- tunnels (this node's SSH connections)
  public final Gauge tunnelUp = Gauge.builder().name("sluice_tunnel_up")
      .help("1 while this node's connection to the login node's agent is up, else 0")
      .labelNames("cluster", "login_node").register(registry);
  public final Counter tunnelReconnects = Counter.builder().name("sluice_tunnel_reconnects_total")
      .help("Connections to a login node's agent made again after one was lost")
      .labelNames("cluster", "login_node").register(registry);
  public final Histogram tunnelRtt = Histogram.builder().name("sluice_tunnel_rtt_seconds")
      .help("Round trip of a ping to the agent through the tunnel")
      .labelNames("cluster", "login_node").classicOnly().classicUpperBounds(SHORT).register(registry);
  public final Counter agentProtocolErrors = Counter.builder().name("sluice_agent_protocol_errors_total")
      .help("Errors the agent reported or the bridge found in the agent protocol, by code")
      .labelNames("code").register(registry);

  // ---------------------------------------------------------------- usage records
  public final Counter usageRecordsDropped = Counter.builder().name("sluice_usage_records_dropped_total")
      .help("Usage records that could not be stored (buffer full or inserts failing)").register(registry);
  public final Histogram usageWrite = Histogram.builder().name("sluice_usage_write_seconds")
      .help("Time of one batched insert of usage records").classicOnly().classicUpperBounds(SHORT).register(registry);

  private SluiceMetrics(boolean userLabel) {
    this.userTokens = userLabel ? Counter.builder().name("sluice_user_tokens_total")
        .help("Tokens of finished requests by user and type (sluice.metrics.user-label = on)")
        .labelNames("user", "type").register(registry) : null;
  }

  /** A registry of its own, for a test or a tool without an actor system. */
  public static SluiceMetrics standalone(boolean userLabel) { return new SluiceMetrics(userLabel); }
}
