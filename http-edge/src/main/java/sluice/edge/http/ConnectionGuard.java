package sluice.edge.http;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.Done;
import org.apache.pekko.NotUsed;
import org.apache.pekko.http.impl.engine.server.HttpAttributes;
import org.apache.pekko.http.javadsl.model.HttpEntities;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpRequest;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.RequestEntity;
import org.apache.pekko.http.javadsl.model.ResponseEntity;
import org.apache.pekko.http.javadsl.model.headers.Connection;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.apache.pekko.stream.Attributes;
import org.apache.pekko.stream.BidiShape;
import org.apache.pekko.stream.Inlet;
import org.apache.pekko.stream.KillSwitches;
import org.apache.pekko.stream.Outlet;
import org.apache.pekko.stream.SharedKillSwitch;
import org.apache.pekko.stream.javadsl.BidiFlow;
import org.apache.pekko.stream.javadsl.Flow;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.stream.stage.AbstractInHandler;
import org.apache.pekko.stream.stage.AbstractOutHandler;
import org.apache.pekko.stream.stage.AsyncCallback;
import org.apache.pekko.stream.stage.GraphStage;
import org.apache.pekko.stream.stage.GraphStageLogic;
import org.apache.pekko.stream.stage.TimerGraphStageLogic;
import org.apache.pekko.util.ByteString;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.core.Stages;

/**
 * Guards one connection of the API port, between Pekko's HTTP layer and the routes, at the level of requests and
 * responses. A request is in flight from its head until its response entity has been sent (an SSE stream: until its
 * last event). With none in flight the connection is closed after the head timeout (before the first request) or the
 * idle timeout (between requests); with one in flight nothing here cuts it. A streamed request body must arrive within
 * the body timeout, else the client gets 408 and the connection is closed. A connection over its client address's cap
 * is closed at once. Pekko's {@code pipelining-limit} stays 1, so one request at a time is the case handled.
 */
final class ConnectionGuard extends GraphStage<BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse>> {
  private static final Logger LOG = LoggerFactory.getLogger(ConnectionGuard.class);
  private static final String IDLE = "idle";
  private static final String BODY = "body";

  private final Inlet<HttpRequest> fromClient = Inlet.create("ConnectionGuard.fromClient");
  private final Outlet<HttpRequest> toRoutes = Outlet.create("ConnectionGuard.toRoutes");
  private final Inlet<HttpResponse> fromRoutes = Inlet.create("ConnectionGuard.fromRoutes");
  private final Outlet<HttpResponse> toClient = Outlet.create("ConnectionGuard.toClient");
  private final BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse> shape =
      new BidiShape<>(fromClient, toRoutes, fromRoutes, toClient);
  private final ConnectionSettings settings;
  private final AddressCounts counts;

  private ConnectionGuard(ConnectionSettings settings, AddressCounts counts) {
    this.settings = settings;
    this.counts = counts;
  }

  /** The routes behind a guard; materialized once per connection. {@code counts} is shared by all connections. */
  static Flow<HttpRequest, HttpResponse, NotUsed> around(Flow<HttpRequest, HttpResponse, ?> routes, ConnectionSettings settings,
                                                        AddressCounts counts) {
    return BidiFlow.fromGraph(new ConnectionGuard(settings, counts)).join(routes);
  }

  @Override public BidiShape<HttpRequest, HttpRequest, HttpResponse, HttpResponse> shape() { return shape; }

  @Override public GraphStageLogic createLogic(Attributes attributes) { return new Logic(attributes); }

  private final class Logic extends TimerGraphStageLogic {
    /** The client's address: Pekko puts it into the connection's attributes (remote-address-attribute = on). */
    private final InetAddress address;
    private final AsyncCallback<Done> responseSent = createAsyncCallback(d -> onResponseSent());
    private final AsyncCallback<SharedKillSwitch> bodyRead = createAsyncCallback(this::onBodyRead);
    private boolean counted;
    private int requests;               // request heads seen
    private int inFlight;               // requests whose response has not been sent in full
    private boolean answered;           // the routes have answered the latest request
    private SharedKillSwitch body;      // the latest request's streamed body, until it has been read
    private String requestId;           // the latest request's id, for its 408
    private boolean closing;            // a 408 is on its way; the routes' own answer is dropped
    private boolean clientDone;         // no more requests will come

    Logic(Attributes attributes) {
      super(shape);
      this.address = attributes.getAttribute(HttpAttributes.RemoteAddress.class).map(a -> a.address().getAddress()).orElse(null);
      setHandler(fromClient, new AbstractInHandler() {
        @Override public void onPush() { onRequest(grab(fromClient)); }

        @Override public void onUpstreamFinish() {       // a response still in flight must go out
          clientDone = true;
          complete(toRoutes);
          if (inFlight == 0) completeStage();
        }
      });
      setHandler(toRoutes, new AbstractOutHandler() {
        @Override public void onPull() { pull(fromClient); }
      });
      setHandler(fromRoutes, new AbstractInHandler() {
        @Override public void onPush() { onResponse(grab(fromRoutes)); }
      });
      setHandler(toClient, new AbstractOutHandler() {
        @Override public void onPull() { pull(fromRoutes); }
      });
    }

    @Override public void preStart() {
      if (settings.maxPerAddress() > 0 && address != null) {
        // Closed at once, not answered: HTTP allows an answer only to a request, and waiting for one would let a
        // single address hold connection slots without sending anything (docs/operations.md).
        if (!counts.open(address)) {
          completeStage();
          return;
        }
        counted = true;
      }
      scheduleOnce(IDLE, settings.headTimeout());
    }

    @Override public void postStop() {
      if (counted) counts.close(address);
    }

    private void onRequest(HttpRequest request) {
      cancelTimer(IDLE);
      requests++;
      inFlight++;
      answered = false;
      HttpRequest forward = request;
      if (!request.entity().isStrict()) {
        SharedKillSwitch ks = KillSwitches.shared("request-body");
        body = ks;
        requestId = EdgeDirectives.requestId(request.getHeader("x-request-id").map(HttpHeader::value));
        scheduleOnce(BODY, settings.bodyTimeout());
        forward = request.withEntity(watchBody(request.entity(), ks));
      }
      push(toRoutes, forward);
    }

    private RequestEntity watchBody(RequestEntity entity, SharedKillSwitch ks) {
      Source<ByteString, ?> data = entity.getDataBytes().via(ks.<ByteString>flow()).watchTermination((m, done) -> {
        Stages.whenDone(done, (d, e) -> bodyRead.invoke(ks));
        return m;
      });
      if (entity instanceof HttpEntity.Default d) return HttpEntities.create(d.getContentType(), d.getContentLength(), data);
      if (entity.isChunked()) return HttpEntities.createChunked(entity.getContentType(), data);
      return entity;                                      // requests have no other kind of streamed entity
    }

    private void onBodyRead(SharedKillSwitch ks) {
      if (ks != body) return;
      body = null;
      cancelTimer(BODY);
    }

    private void onResponse(HttpResponse response) {
      if (closing) {
        response.discardEntityBytes(materializer());
        return;
      }
      answered = true;
      ResponseEntity entity = response.entity();
      ResponseEntity watched = entity.isStrict() ? null : watchResponse(entity);
      if (watched == null) {                             // sent as soon as the server has it
        push(toClient, response);
        onResponseSent();
      } else {
        push(toClient, response.withEntity(watched));
      }
    }

    /** The entity with its end reported to {@link #onResponseSent}, or null for a kind that cannot be watched. */
    private ResponseEntity watchResponse(ResponseEntity entity) {
      Source<ByteString, ?> data = entity.getDataBytes().watchTermination((m, done) -> {
        Stages.whenDone(done, (d, e) -> responseSent.invoke(Done.getInstance()));
        return m;
      });
      if (entity instanceof HttpEntity.Default d) return HttpEntities.create(d.getContentType(), d.getContentLength(), data);
      if (entity.isChunked()) return HttpEntities.createChunked(entity.getContentType(), data);
      if (entity.isCloseDelimited()) return HttpEntities.createCloseDelimited(entity.getContentType(), data);
      return null;
    }

    private void onResponseSent() {
      inFlight--;
      if (inFlight > 0 || closing) return;
      if (body != null) {                                // answered before the body was read: Pekko closes the connection
        body = null;
        cancelTimer(BODY);
      }
      if (clientDone) completeStage();
      else scheduleOnce(IDLE, settings.idleTimeout());
    }

    @Override public void onTimer(Object key) {
      if (IDLE.equals(key) && inFlight == 0) {
        LOG.debug("closing a connection from {}: {}", address, requests == 0 ? "no request head within the head timeout"
            : "no new request within the idle timeout");
        completeStage();
      } else if (BODY.equals(key) && body != null && !answered) {
        bodyTimedOut();
      }
    }

    /** 408 (RFC 9110: the request was not received in time, and the connection is closed); the routes stop waiting. */
    private void bodyTimedOut() {
      SharedKillSwitch ks = body;
      body = null;
      closing = true;
      ApiError error = ApiError.of(ApiError.Kind.BODY_TIMEOUT,
          "The request body did not arrive in full within " + seconds(settings.bodyTimeout()) + " s");
      ks.abort(new ApiException(error));
      LOG.debug("request body from {} not complete within the body timeout; answering 408", address);
      HttpResponse response = OpenAiErrors.response(error)
          .addHeader(RawHeader.create("x-request-id", requestId))
          .addHeader(Connection.create("close"));
      emit(toClient, response, this::completeStage);
    }
  }

  private static String seconds(Duration d) {
    return d.toMillis() % 1000 == 0 ? Long.toString(d.toSeconds()) : String.valueOf(d.toMillis() / 1000.0);
  }

  /** Open connections per client address, shared by all connections of one binding; warns of refusals once a minute. */
  static final class AddressCounts {
    private static final Duration WARN_EVERY = Duration.ofMinutes(1);
    private final int cap;
    private final ConcurrentHashMap<InetAddress, Integer> open = new ConcurrentHashMap<>();
    private final AtomicLong refused = new AtomicLong();
    private final AtomicLong nextWarning = new AtomicLong(System.nanoTime());

    AddressCounts(int cap) { this.cap = cap; }

    /** Counts a new connection from {@code a}, or refuses it (false) when {@code a} has {@code cap} open already. */
    boolean open(InetAddress a) {
      boolean[] admitted = {false};
      open.compute(a, (k, n) -> {
        int now = n == null ? 0 : n;
        if (now >= cap) return n;
        admitted[0] = true;
        return now + 1;
      });
      if (!admitted[0]) refusedOne(a);
      return admitted[0];
    }

    void close(InetAddress a) { open.computeIfPresent(a, (k, n) -> n <= 1 ? null : n - 1); }

    private void refusedOne(InetAddress a) {
      long total = refused.incrementAndGet();
      long now = System.nanoTime();
      long next = nextWarning.get();
      if (now - next >= 0 && nextWarning.compareAndSet(next, now + WARN_EVERY.toNanos())) {
        LOG.warn("closed a new connection from {}, which has {} open already (sluice.http.connections.max-per-address; "
            + "{} closed so far). Behind a load balancer or reverse proxy, where every connection comes from its "
            + "address, set the cap to 0", a.getHostAddress(), cap, total);
      }
    }
  }
}
