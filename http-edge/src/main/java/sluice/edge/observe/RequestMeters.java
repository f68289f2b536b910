package sluice.edge.observe;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import io.prometheus.metrics.core.datapoints.DistributionDataPoint;
import io.prometheus.metrics.core.datapoints.GaugeDataPoint;
import java.util.Collection;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.DoubleConsumer;
import sluice.core.metrics.SluiceMetrics;

/**
 * The request metrics of this node's edge. Labels stay bounded: a model the client named that is not configured is
 * {@code -}, an endpoint other than the three OpenAI ones is {@code other}. The data points of each model and endpoint
 * are looked up once and kept ({@link Route}); only an unusual status or outcome takes a lookup.
 */
public final class RequestMeters {
  static final String UNKNOWN_MODEL = "-";
  static final String OTHER_ENDPOINT = "other";
  private static final Set<String> ENDPOINTS = Set.of("/v1/chat/completions", "/v1/completions", "/v1/embeddings");

  private final SluiceMetrics metrics;
  private final Set<String> models;
  private final Map<String, Model> perModel = new ConcurrentHashMap<>();
  /** Requests for a model nobody configured have routes, but no model series (in flight, tokens, TTFT). */
  private final Map<String, Route> unknownModelRoutes = new ConcurrentHashMap<>();

  public RequestMeters(SluiceMetrics metrics, Collection<String> models) {
    this.metrics = metrics;
    this.models = Set.copyOf(models);
    for (String m : models) model(m);                     // every configured model shows from the start, at 0
  }

  /** The data points of one configured model, and of its routes by endpoint label. */
  private record Model(GaugeDataPoint inflight, DistributionDataPoint ttft, DoubleConsumer interToken,
                       CounterDataPoint promptTokens, CounterDataPoint completionTokens, Map<String, Route> routes) {}

  /** The data points of one model and endpoint, with the answer almost every request gets. */
  private record Route(CounterDataPoint ok, DistributionDataPoint duration) {}

  private Model model(String m) {
    return perModel.computeIfAbsent(m, k -> new Model(metrics.inflight.labelValues(k), metrics.timeToFirstToken.labelValues(k),
        metrics.interToken.labelValues(k)::observe, metrics.tokens.labelValues(k, "prompt"),
        metrics.tokens.labelValues(k, "completion"), new ConcurrentHashMap<>()));
  }

  private Route route(String model, String endpoint) {
    Map<String, Route> routes = model.equals(UNKNOWN_MODEL) ? unknownModelRoutes : model(model).routes();
    return routes.computeIfAbsent(endpoint, e -> new Route(metrics.requests.labelValues(model, e, "200", "ok"),
        metrics.requestDuration.labelValues(model, e)));
  }

  String modelLabel(String model) { return model != null && models.contains(model) ? model : UNKNOWN_MODEL; }

  static String endpointLabel(String endpoint) { return ENDPOINTS.contains(endpoint) ? endpoint : OTHER_ENDPOINT; }

  /** A request was admitted for {@code model} (a configured one): in flight until {@link #finished}. */
  public void admitted(String model) { model(model).inflight().inc(); }

  /** Where a stream's gaps between token events go (seconds); a no-op for a model that is not configured. */
  public DoubleConsumer interToken(String model) {
    return models.contains(model) ? model(model).interToken() : s -> {};
  }

  public void finished(FinishedRequest r) {
    String model = modelLabel(r.model());
    String endpoint = endpointLabel(r.endpoint());
    Route route = route(model, endpoint);
    if (r.status() == 200 && r.outcome().equals("ok")) route.ok().inc();
    else metrics.requests.labelValues(model, endpoint, Integer.toString(r.status()), r.outcome()).inc();
    route.duration().observe(seconds(r.duration().toNanos()));
    if (model.equals(UNKNOWN_MODEL)) return;
    Model m = model(model);
    if (r.admitted()) m.inflight().dec();
    if (r.ttft() != null) m.ttft().observe(seconds(r.ttft().toNanos()));
    if (r.promptTokens() > 0) m.promptTokens().inc(r.promptTokens());
    if (r.completionTokens() > 0) m.completionTokens().inc(r.completionTokens());
    if (metrics.userTokens != null) {
      metrics.userTokens.labelValues(r.user(), "prompt").inc(r.promptTokens());
      metrics.userTokens.labelValues(r.user(), "completion").inc(r.completionTokens());
    }
    if (r.limit() != null) metrics.rateLimitRefusals.labelValues(model, r.limit()).inc();
  }

  private static double seconds(long nanos) { return nanos / 1e9; }
}
