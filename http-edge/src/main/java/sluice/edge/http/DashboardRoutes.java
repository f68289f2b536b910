package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.complete;
import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.pathEndOrSingleSlash;
import static org.apache.pekko.http.javadsl.server.Directives.pathPrefix;
import static org.apache.pekko.http.javadsl.server.Directives.reject;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpCharsets;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.http.javadsl.server.Route;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import sluice.edge.dashboard.DashboardFeed;

/**
 * The operator dashboard: {@code GET /dashboard} (the page) and {@code GET /dashboard/<asset>} (a fixed list of files
 * from the jar, held in memory), without authentication since they hold no data; and
 * {@code GET /admin/dashboard/events}, the live data as server-sent events behind the admin key. The page references
 * each asset with a hash of its content, so assets may be cached for a year and a new release is still loaded at once.
 */
final class DashboardRoutes {
  static final String CSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; "
      + "base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
  private static final String FOLDER = "/sluice/dashboard/";
  private static final ContentType SSE = ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM);
  private static final List<HttpHeader> SAFETY = List.of(
      RawHeader.create("Content-Security-Policy", CSP),
      RawHeader.create("X-Content-Type-Options", "nosniff"),
      RawHeader.create("Referrer-Policy", "no-referrer"),
      RawHeader.create("X-Frame-Options", "DENY"));

  private record Asset(ContentType type, byte[] bytes) {}

  private final Supplier<Source<ByteString, NotUsed>> events;
  private final Map<String, Asset> assets = new LinkedHashMap<>();
  private final HttpResponse index;

  /** @param events one browser's event stream ({@link DashboardFeed#stream}) */
  DashboardRoutes(Supplier<Source<ByteString, NotUsed>> events) {
    this.events = events;
    assets.put("dashboard.js", new Asset(ContentTypes.create(MediaTypes.APPLICATION_JAVASCRIPT, HttpCharsets.UTF_8), read("dashboard.js")));
    assets.put("dashboard.css", new Asset(ContentTypes.create(MediaTypes.TEXT_CSS, HttpCharsets.UTF_8), read("dashboard.css")));
    assets.put("favicon.svg", new Asset(ContentTypes.create(MediaTypes.IMAGE_SVG_XML), read("favicon.svg")));
    String html = new String(read("index.html"), StandardCharsets.UTF_8);
    for (Map.Entry<String, Asset> a : assets.entrySet()) {
      html = html.replace("/dashboard/" + a.getKey() + "\"", "/dashboard/" + a.getKey() + "?v=" + hash(a.getValue().bytes()) + "\"");
    }
    this.index = HttpResponse.create().withHeaders(with(SAFETY, RawHeader.create("Cache-Control", "no-cache")))
        .withEntity(HttpEntities.create(ContentTypes.TEXT_HTML_UTF8, html.getBytes(StandardCharsets.UTF_8)));
  }

  /** {@code /dashboard} and its assets; anything else under it is 404. */
  Route page() {
    return pathPrefix("dashboard", () -> get(() -> concat(
        pathEndOrSingleSlash(() -> complete(index)),
        path(segment(), name -> {
          Asset a = assets.get(name);
          if (a == null) return reject();
          return complete(HttpResponse.create()
              .withHeaders(with(SAFETY, RawHeader.create("Cache-Control", "public, max-age=31536000, immutable")))
              .withEntity(HttpEntities.create(a.type(), a.bytes())));
        }))));
  }

  /** {@code /admin/dashboard/events}, inside the admin key's guard. */
  Route events() {
    return path(segment("dashboard").slash("events"), () -> get(() -> complete(HttpResponse.create()
        .withHeaders(List.of(RawHeader.create("Cache-Control", "no-store"), RawHeader.create("X-Accel-Buffering", "no")))
        .withEntity(HttpEntities.createChunked(SSE, events.get())))));
  }

  private static List<HttpHeader> with(List<HttpHeader> base, HttpHeader extra) {
    List<HttpHeader> all = new ArrayList<>(base);
    all.add(extra);
    return all;
  }

  private static byte[] read(String name) {
    try (InputStream in = DashboardRoutes.class.getResourceAsStream(FOLDER + name)) {
      if (in == null) throw new IllegalStateException("the dashboard's " + name + " is missing from the jar");
      return in.readAllBytes();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String hash(byte[] bytes) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes), 0, 6);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }
}
