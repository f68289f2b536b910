package sluice.edge.http;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import sluice.core.user.UserDirectory;
import sluice.edge.observe.FinishedRequest;
import sluice.edge.observe.RequestLog;
import sluice.edge.observe.RequestMeters;
import sluice.edge.usage.TokenUsage;
import sluice.edge.usage.UsageMeter;
import sluice.persistence.usage.UsageRecord;
import sluice.persistence.usage.UsageWriter;

/**
 * One request's accounts: it ends the request exactly once, whatever way it ends (refused, answered, broken off by the
 * model server, abandoned by the client), by settling the tokens reserved at admission with the user actor and handing
 * one usage record to the batched writer. No database write happens here.
 */
public final class RequestLedger {
  /**
   * Where every request's accounts go: the user actors that settle reservations, the usage writer, the clock, and
   * what operators see of it (metrics and the request log).
   */
  public record Accounts(UserDirectory users, UsageWriter writer, Clock clock, Drain drain, RequestMeters meters,
                         RequestLog log) {}

  private final Accounts accounts;
  private final RequestContext request;
  private final String admissionId;            // null when nothing was admitted, so nothing is settled
  private final UsageMeter meter;
  private final AtomicBoolean finished = new AtomicBoolean();
  private volatile String jobId;
  private volatile int upstreamStatus;
  private volatile boolean upstreamFailed;
  private volatile boolean endedByServer;

  private RequestLedger(Accounts accounts, RequestContext request, String admissionId) {
    this.accounts = accounts;
    this.request = request;
    this.admissionId = admissionId;
    this.meter = new UsageMeter(accounts.clock(), admissionId == null ? s -> {} : accounts.meters().interToken(request.model()));
  }

  /** A request the user actor admitted under {@code admissionId}: it must be settled, which {@link #finish} does. */
  public static RequestLedger admitted(Accounts accounts, RequestContext request, String admissionId) {
    RequestLedger ledger = new RequestLedger(accounts, request, admissionId);
    accounts.drain().opened(ledger);
    accounts.meters().admitted(request.model());
    return ledger;
  }

  /** A request refused before admission or by it, with the error the client got: recorded, nothing to settle. */
  public static void refusedEarly(Accounts accounts, RequestContext request, ApiError error) {
    new RequestLedger(accounts, request, null).refused(error);
  }

  /**
   * A request refused before anyone was known to send it (no key, a wrong key, an unverifiable token): counted and
   * logged like any other, under user, key and model "-". No usage record: there is no user to bill.
   */
  public static void unauthenticated(Accounts accounts, String requestId, String endpoint, Instant startedAt,
                                     ApiError error) {
    Duration duration = Duration.between(startedAt, accounts.clock().instant());
    FinishedRequest finished = new FinishedRequest(requestId, "-", "-", "-", text(endpoint), false,
        error.status().intValue(), error.kind().code(), null, null, duration, 0, 0, false, false, null);
    accounts.meters().finished(finished);
    accounts.log().finished(finished);
  }

  public UsageMeter meter() { return meter; }

  /** The model server answered with a head; what follows is metered. */
  void upstream(String jobId, int status) {
    this.jobId = jobId;
    this.upstreamStatus = status;
  }

  /** The shutdown deadline came before the response ended: the gateway, not the client, ended it. */
  void endedByServer() { endedByServer = true; }

  /** The model server's body broke off (the client got an error event or a cut connection). */
  void upstreamFailed() { upstreamFailed = true; }

  /** No model server answered (queue full, no replica, cluster unreachable): {@code error} is what the client got. */
  void refused(ApiError error) {
    finish(error.status().intValue(), error.kind().code(), limit(error.kind()), new TokenUsage(0, 0), false, false);
  }

  /** Which of a user's or key's limits refused a request, for the refusal counter; null for any other error. */
  private static String limit(ApiError.Kind kind) {
    return switch (kind) {
      case REQUEST_RATE_LIMIT -> "requests";
      case TOKEN_RATE_LIMIT -> "tokens";
      case CONCURRENCY_LIMIT -> "concurrency";
      case TOKEN_BUDGET -> "budget";
      default -> null;
    };
  }

  /**
   * The response body ended. It reached its end (the model's last event or the end of its JSON), broke off on the
   * model server's side, or neither: then the client went away, and the request is billed for what it was sent.
   */
  void bodyEnded() {
    boolean cut = !meter.reachedEnd() && !upstreamFailed;
    int status = upstreamStatus >= 400 ? upstreamStatus : upstreamFailed ? 502 : cut && endedByServer ? 503 : upstreamStatus;
    String outcome = upstreamStatus >= 400 || upstreamFailed ? "upstream_error" : cut && endedByServer ? "server_shutdown"
        : cut ? "client_disconnected" : "ok";
    finish(status, outcome, null, meter.usage().orElse(new TokenUsage(0, 0)), cut && !endedByServer, cut && endedByServer);
  }

  private void finish(int status, String outcome, String limit, TokenUsage usage, boolean clientDisconnected,
                      boolean serverShutdown) {
    if (!finished.compareAndSet(false, true)) return;
    accounts.drain().closed(this);
    var user = request.caller().userId();
    if (admissionId != null) accounts.users().settle(user, admissionId, usage.promptTokens(), usage.completionTokens());
    Instant now = accounts.clock().instant();
    Instant startedAt = request.startedAt();
    Duration ttft = meter.firstTokenAt().map(t -> Duration.between(startedAt, t)).orElse(null);
    Duration duration = Duration.between(startedAt, now);
    String keyId = text(request.caller().credentialLabel());
    accounts.writer().record(new UsageRecord(request.requestId(), user.value(), keyId,
        text(request.model()), text(request.endpoint()), jobId, request.stream(), status, usage.promptTokens(),
        usage.completionTokens(), ttft, duration, clientDisconnected, serverShutdown, startedAt));
    FinishedRequest finished = new FinishedRequest(request.requestId(), user.value(), keyId, text(request.model()),
        text(request.endpoint()), request.stream(), status, outcome, jobId, ttft, duration, usage.promptTokens(),
        usage.completionTokens(), clientDisconnected, admissionId != null, limit);
    accounts.meters().finished(finished);
    accounts.log().finished(finished);
  }

  /** What the client sent may be missing or long (a model name is anything until checked): keep the record valid. */
  private static String text(String value) {
    if (value == null || value.isBlank()) return "-";
    return value.length() > UsageRecord.MAX_TEXT ? value.substring(0, UsageRecord.MAX_TEXT) : value;
  }
}
