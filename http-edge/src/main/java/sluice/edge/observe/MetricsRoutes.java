package sluice.edge.observe;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import org.apache.pekko.http.javadsl.server.Directives;
import static org.apache.pekko.http.javadsl.server.Directives.path;

import io.prometheus.metrics.expositionformats.PrometheusTextFormatWriter;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.pekko.actor.AbstractExtensionId;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.actor.Extension;
import org.apache.pekko.actor.ExtensionIdProvider;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.management.javadsl.ManagementRouteProvider;
import org.apache.pekko.management.javadsl.ManagementRouteProviderSettings;
import sluice.core.metrics.SluiceMetrics;

/**
 * {@code GET /metrics} on the management port (a Pekko Management route provider, application.conf): this node's
 * {@link SluiceMetrics} and JVM metrics in Prometheus' text format. Read-only; like /ready, the management port belongs
 * on a network only operators and Prometheus reach.
 */
public final class MetricsRoutes extends AbstractExtensionId<MetricsRoutes.Provider> implements ExtensionIdProvider {
  public static final MetricsRoutes ID = new MetricsRoutes();
  private static final ContentType TEXT = ContentTypes.parse(PrometheusTextFormatWriter.CONTENT_TYPE);

  @Override public MetricsRoutes lookup() { return ID; }

  @Override public Provider createExtension(ExtendedActorSystem system) {
    return new Provider(SluiceMetrics.get(Adapter.toTyped(system)).registry);
  }

  /** The route over one node's registry. */
  public static final class Provider implements Extension, ManagementRouteProvider {
    private final PrometheusRegistry registry;
    private final PrometheusTextFormatWriter writer = PrometheusTextFormatWriter.create();

    Provider(PrometheusRegistry registry) {
      this.registry = registry;
    }

    @Override public Route routes(ManagementRouteProviderSettings settings) {
      return path("metrics", () -> Directives.get(() -> complete(HttpEntities.create(TEXT, scrape()))));
    }

    byte[] scrape() {
      ByteArrayOutputStream out = new ByteArrayOutputStream(64 * 1024);
      try {
        writer.write(out, registry.scrape());
      } catch (IOException e) {
        throw new UncheckedIOException(e);               // a byte array does not fail
      }
      return out.toByteArray();
    }
  }
}
