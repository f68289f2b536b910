package sluice.edge.http;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import org.apache.pekko.NotUsed;
import org.apache.pekko.actor.Cancellable;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.http.javadsl.model.ContentType;
import org.apache.pekko.http.javadsl.model.ContentTypes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.MediaTypes;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.japi.pf.PFBuilder;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.Stages;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterGateways;
import sluice.core.cluster.UpstreamRequest;
import sluice.core.cluster.UpstreamResponse;
import sluice.core.config.ServiceSettings;
import sluice.core.service.LeaseReply;
import sluice.core.service.ServiceDirectory;
import sluice.edge.EdgeSettings;
import sluice.edge.usage.StreamOptions;

/**
 * One request's way to a model server and back: lease a ready replica from the service actor (waiting in its queue
 * if needed), forward through the cluster gateway, and turn the model server's response into the HTTP response
 * unmodified. The lease is released exactly once, when the response body ends for whatever reason.
 *
 * <p>Streaming requests that wait longer than {@code sse-commit-after} get their 200 head early and SSE comment
 * keep-alives while they wait; whatever fails after that arrives as an in-band SSE error event.
 */
public final class Proxy {
  private static final Logger LOG = LoggerFactory.getLogger(Proxy.class);
  private static final ContentType SSE = ContentTypes.create(MediaTypes.TEXT_EVENT_STREAM);
  private static final int MAX_SSE_EVENT = 4 * 1024 * 1024;
  private static final int MAX_ERROR_BODY = 64 * 1024;
  /** A response body nobody ran within this time (the client left first) is cancelled and its lease released. */
  private static final Duration UNCLAIMED_BODY = Duration.ofSeconds(30);

  private final ServiceDirectory services;
  private final ClusterGateways gateways;
  private final EdgeSettings settings;
  private final Drain drain;
  private final ActorSystem<?> system;

  public Proxy(ServiceDirectory services, ClusterGateways gateways, EdgeSettings settings, Drain drain, ActorSystem<?> system) {
    this.services = services;
    this.gateways = gateways;
    this.settings = settings;
    this.drain = drain;
    this.system = system;
  }

  /**
   * A request to pass through: a POST of {@code upstream.body()} to the request's endpoint. The caller's user keeps the
   * service's queue fair; {@code headers} (the rate-limit state) go on the response; {@code ledger} meters the answer
   * and ends the request's accounts.
   *
   * @param upstream the body for the model server, and which usage the client asked for itself (Sluice asks the model
   *                 server for a stream's usage anyway and removes what the client did not ask for)
   */
  public record Call(RequestContext request, ServiceSettings service, StreamOptions.Prepared upstream,
                     List<HttpHeader> headers, RequestLedger ledger) {
    public Call {
      headers = List.copyOf(headers);
    }

    boolean stream() { return request.stream(); }

    String requestId() { return request.requestId(); }
  }

  /** What leasing and forwarding produced. */
  private sealed interface Outcome {}

  private record Upstream(UpstreamResponse response) implements Outcome {}

  private record Refused(ApiError error) implements Outcome {}

  public CompletionStage<HttpResponse> handle(Call call) {
    CompletableFuture<Outcome> outcome = obtain(call);
    outcome.thenAccept(o -> {
      if (o instanceof Refused r) call.ledger().refused(r.error());
    });
    if (!call.stream()) return outcome.thenApply(o -> respond(call, o));
    // Race the outcome against the commit deadline; exactly one side consumes the outcome. An outcome in time cancels
    // the timer, which would otherwise hold the request and its stream until the deadline (see ClaimedOnce).
    AtomicBoolean decided = new AtomicBoolean();
    CompletableFuture<HttpResponse> result = new CompletableFuture<>();
    Cancellable commit = system.scheduler().scheduleOnce(settings.sseCommitAfter(), () -> {
      if (decided.compareAndSet(false, true)) result.complete(committedStream(call, outcome));
    }, system.executionContext());
    outcome.thenAccept(o -> {
      if (decided.compareAndSet(false, true)) {
        commit.cancel();
        result.complete(respond(call, o));
      }
    });
    return result;
  }

  // ---------------------------------------------------------------- lease and forward

  /** Never fails: every failure becomes a {@link Refused} outcome. */
  private CompletableFuture<Outcome> obtain(Call call) {
    return attempt(call, null);
  }

  /**
   * Leases a replica and forwards. A failure before the response head (the replica died, its node went away) is
   * retried once on another replica, since the model server sent nothing yet; {@code failed} is the replica to avoid.
   */
  private CompletableFuture<Outcome> attempt(Call call, String failed) {
    String leaseId = RequestIds.next();
    return services.acquire(call.service(), leaseId, call.request().caller().userId().value(), failed).toCompletableFuture()
        .thenCompose(reply -> {
          if (reply instanceof LeaseReply.Unavailable u) return CompletableFuture.<Outcome>completedFuture(new Refused(ApiError.of(u)));
          LeaseReply.Granted g = (LeaseReply.Granted) reply;
          AtomicBoolean released = new AtomicBoolean();
          Consumer<Boolean> releaseAs = replicaFailed -> {
            if (released.compareAndSet(false, true)) services.release(g.service(), g.leaseId(), replicaFailed);
          };
          Runnable release = () -> releaseAs.accept(false);
          UpstreamRequest request = new UpstreamRequest(g.service(), g.jobId(), "POST", call.request().endpoint(),
              Map.of("content-type", "application/json"), call.upstream().body(), call.requestId());
          CompletableFuture<Outcome> result = new CompletableFuture<>();
          gateways.get(g.cluster()).forward(request).whenCompleteAsync((r, err) -> {
            if (err == null) {
              call.ledger().upstream(g.jobId(), r.status());
              if (r.status() < 500) services.answered(g.service(), g.jobId());   // alive, if slow (health checks)
              Runnable end = () -> {
                release.run();
                call.ledger().bodyEnded();
              };
              result.complete(new Upstream(new UpstreamResponse(r.status(), r.headers(), guarded(metered(call, r), end))));
              return;
            }
            releaseAs.accept(true);
            boolean retry = failed == null && ClusterException.in(err).map(e -> e.reason().worthRetrying()).orElse(false);
            LOG.info("request {} to {} job {} failed before a response{}: {}", call.requestId(), g.service(), g.jobId(),
                retry ? " (retrying on another replica)" : "", err.getMessage());
            if (retry) attempt(call, g.jobId()).whenComplete((o, e) -> result.complete(o));
            else result.complete(new Refused(ApiError.fromFailure(err)));
          }, Runnable::run);
          return result;
        })
        .exceptionally(err -> {
          // The ask itself failed (timeout): a grant may still be on its way, so release it; releasing is idempotent.
          services.release(call.service().id(), leaseId, false);
          return new Refused(ApiError.fromFailure(err));
        });
  }

  /**
   * The model server's body as the client will get it, metered: SSE re-chunked at event boundaries, with the usage the
   * client did not ask for removed and a break-off turned into an error event; any other body passes unchanged while
   * its JSON usage is read on the fly.
   */
  private Source<ByteString, NotUsed> metered(Call call, UpstreamResponse r) {
    RequestLedger ledger = call.ledger();
    if (isEventStream(r.headers().getOrDefault("content-type", ""))) {
      return r.body()
          .via(SseEvents.wholeEvents(MAX_SSE_EVENT))
          .via(ledger.meter().sse(call.upstream().clientIncludeUsage(), call.upstream().clientContinuousUsage()))
          .recover(new PFBuilder<Throwable, ByteString>()
              .matchAny(e -> {
                LOG.info("stream {} broken off after its head: {}", call.requestId(), e.getMessage());
                ledger.upstreamFailed();
                return OpenAiErrors.sseEvent(ApiError.fromFailure(e));
              })
              .build());
    }
    return r.body()
        .mapError(new PFBuilder<Throwable, Throwable>().matchAny(e -> {
          ledger.upstreamFailed();
          return e;
        }).build())
        .via(ledger.meter().json());
  }

  /** Releases the lease when the body ends, and cancels a body that no one runs (the client left before it started). */
  private Source<ByteString, NotUsed> guarded(Source<ByteString, NotUsed> body, Runnable release) {
    return ClaimedOnce.of(body.watchTermination((mat, done) -> {
      Stages.whenDone(done, (d, e) -> release.run());
      return mat;
    }), UNCLAIMED_BODY, system);
  }

  // ---------------------------------------------------------------- responses

  private HttpResponse respond(Call call, Outcome o) {
    if (o instanceof Refused r) return OpenAiErrors.response(r.error()).addHeaders(call.headers());
    UpstreamResponse up = ((Upstream) o).response();
    String ct = up.headers().getOrDefault("content-type", "application/json");
    ResponseEntity entity;
    if (isEventStream(ct)) {
      entity = HttpEntities.createChunked(SSE, drain.endingAtDeadline(up.body()).via(SseEvents.keepAlive(settings.sseKeepAlive())));
    } else {
      ContentType type = contentType(ct);
      Optional<Long> length = Optional.ofNullable(up.headers().get("content-length")).flatMap(Proxy::parseLength);
      entity = length.isPresent()
          ? HttpEntities.create(type, length.get(), up.body())
          : HttpEntities.createChunked(type, up.body());
    }
    return HttpResponse.create().withStatus(up.status()).withHeaders(passedHeaders(up)).addHeaders(call.headers())
        .withEntity(entity);
  }

  /** The 200 head goes out now; the stream carries keep-alives until the outcome, then its events or an error event. */
  private HttpResponse committedStream(Call call, CompletableFuture<Outcome> outcome) {
    Source<ByteString, NotUsed> body = drain.endingAtDeadline(Source.completionStage(outcome)
        .flatMapConcat(o -> {
          if (o instanceof Refused r) return Source.single(OpenAiErrors.sseEvent(r.error()));
          UpstreamResponse up = ((Upstream) o).response();
          return up.status() == 200 ? up.body() : errorEvent(up);
        }).mapMaterializedValue(m -> NotUsed.getInstance()))
        .via(SseEvents.keepAlive(settings.sseKeepAlive()));
    return HttpResponse.create().withStatus(StatusCodes.OK).withHeaders(call.headers())
        .withEntity(HttpEntities.createChunked(SSE, body));
  }

  /** A non-200 answer after the head was sent: the model server's own error JSON becomes the error event. */
  private Source<ByteString, NotUsed> errorEvent(UpstreamResponse up) {
    return up.body().limitWeighted(MAX_ERROR_BODY, b -> (long) b.size()).fold(ByteString.emptyByteString(), ByteString::concat)
        .map(bytes -> {
          try {
            JsonNode json = OpenAiJson.MAPPER.readTree(bytes.toArrayUnsafe());
            if (json.has("error")) return ByteString.fromString("data: " + json + "\n\n");
          } catch (Exception ignored) {
            // not JSON: fall through to a generic event
          }
          return OpenAiErrors.sseEvent(ApiError.of(ApiError.Kind.UPSTREAM_ERROR, "The model server answered " + up.status()));
        })
        .recover(new PFBuilder<Throwable, ByteString>()
            .matchAny(e -> OpenAiErrors.sseEvent(ApiError.of(ApiError.Kind.UPSTREAM_ERROR, "The model server failed")))
            .build());
  }

  private static List<HttpHeader> passedHeaders(UpstreamResponse up) {
    String retryAfter = up.headers().get("retry-after");
    return retryAfter == null ? List.of() : List.of(RawHeader.create("Retry-After", retryAfter));
  }

  static boolean isEventStream(String contentType) {
    return contentType.toLowerCase(Locale.ROOT).startsWith("text/event-stream");
  }

  static ContentType contentType(String header) {
    try {
      return ContentTypes.parse(header);
    } catch (RuntimeException e) {
      return ContentTypes.APPLICATION_OCTET_STREAM;
    }
  }

  private static Optional<Long> parseLength(String s) {
    try {
      long n = Long.parseLong(s.trim());
      return n >= 0 ? Optional.of(n) : Optional.empty();
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }
}
