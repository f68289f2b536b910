package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.optionalHeaderValueByName;
import static org.apache.pekko.http.javadsl.server.Directives.parameterMap;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static sluice.edge.http.EdgeDirectives.refuse;
import static sluice.edge.http.FutureRoutes.onSuccess;

import java.io.OutputStream;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.StreamConverters;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.persistence.usage.RolledUpPeriod;
import sluice.persistence.usage.UsageFilter;
import sluice.persistence.usage.UsageStore;
import sluice.persistence.usage.UsageWriter;

/**
 * {@code GET /admin/usage?user=&model=&from=&to=&limit=&format=csv}: totals and per-user-and-model sums over everything
 * matching, plus the newest records (JSON), or every matching record as CSV. Records still in the writer's buffer are
 * flushed first, so a request that just ended is counted. Totals include the days the retention folded into daily
 * totals; the records listed are only those still kept.
 */
final class UsageRoutes {
  private static final Logger LOG = LoggerFactory.getLogger(UsageRoutes.class);
  private static final Set<String> PARAMETERS = Set.of("user", "model", "from", "to", "limit", "format");
  private static final int DEFAULT_RECORDS = 100;

  private final UsageStore store;
  private final UsageWriter writer;
  private final Executor blocking;

  UsageRoutes(UsageStore store, UsageWriter writer, Executor blocking) {
    this.store = store;
    this.writer = writer;
    this.blocking = blocking;
  }

  Route routes() {
    return path("usage", () -> get(() -> parameterMap(params -> optionalHeaderValueByName("Accept", accept -> usage(params, accept)))));
  }

  private Route usage(Map<String, String> params, Optional<String> accept) {
    for (String p : params.keySet()) {
      if (!PARAMETERS.contains(p)) return refuse(invalid("Unknown parameter '" + p + "'", p));
    }
    UsageFilter filter;
    try {
      filter = new UsageFilter(Optional.ofNullable(params.get("user")), Optional.ofNullable(params.get("model")),
          Optional.ofNullable(params.get("from")).map(v -> AdminBodies.time("from", v).start()),
          Optional.ofNullable(params.get("to")).map(v -> AdminBodies.time("to", v).end()));
    } catch (AdminBodies.Invalid e) {
      return refuse(invalid(e.getMessage(), e.field()));
    } catch (IllegalArgumentException e) {
      return refuse(invalid(e.getMessage(), null));
    }
    int limit;
    try {
      limit = params.containsKey("limit") ? Integer.parseInt(params.get("limit")) : DEFAULT_RECORDS;
    } catch (NumberFormatException e) {
      limit = -1;
    }
    if (limit < 0 || limit > UsageFilter.MAX_RECORDS) return refuse(invalid("'limit' must be a whole number from 0 to " + UsageFilter.MAX_RECORDS, "limit"));
    boolean csvOnly = accept.filter(a -> a.contains("text/csv") && !a.contains("application/json")).isPresent();
    String format = params.getOrDefault("format", csvOnly ? "csv" : "json");
    if (!format.equals("csv") && !format.equals("json")) return refuse(invalid("'format' must be json or csv", "format"));
    CompletableFuture<Void> flushed = writer.flush().toCompletableFuture().thenApply(d -> null);
    if (format.equals("csv")) return onSuccess(flushed, v -> csv(filter));
    int max = limit;
    return onSuccess(flushed.thenApplyAsync(v -> {
      try {
        return EdgeDirectives.json(AdminJson.usage(filter, store.summary(filter), store.records(filter, max + 1), max));
      } catch (RolledUpPeriod e) {
        // Refused rather than answered for another period: totals an operator bills by must be for the period asked.
        return refuse(invalid(e.getMessage(), e.bound()));
      } catch (Exception e) {
        throw new IllegalStateException("usage query failed", e);
      }
    }, blocking), route -> route);
  }

  private Route csv(UsageFilter filter) {
    var source = StreamConverters.asOutputStream().mapMaterializedValue(out -> {
      blocking.execute(() -> {
        try (OutputStream o = out) {
          store.exportCsv(filter, o);
        } catch (Exception e) {
          LOG.warn("usage CSV export failed: {}", e.toString());
        }
      });
      return NotUsed.getInstance();
    });
    return complete(HttpResponse.create().withEntity(HttpEntities.createChunked(
        ContentTypes.create(MediaTypes.TEXT_CSV, HttpCharsets.UTF_8), source)));
  }

  private static ApiError invalid(String message, String param) {
    return ApiError.of(ApiError.Kind.INVALID_REQUEST, message).withParam(param);
  }
}
