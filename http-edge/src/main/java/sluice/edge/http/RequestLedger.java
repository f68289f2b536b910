package sluice.edge.http;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicBoolean;
import sluice.core.user.UserDirectory;
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
  /** Where every request's accounts go: the user actors that settle reservations, the usage writer, the clock. */
  public record Accounts(UserDirectory users, UsageWriter writer, Clock clock, Drain drain) {}

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
    this.meter = new UsageMeter(accounts.clock());
  }

  /** A request the user actor admitted under {@code admissionId}: it must be settled, which {@link #finish} does. */
  public static RequestLedger admitted(Accounts accounts, RequestContext request, String admissionId) {
    RequestLedger ledger = new RequestLedger(accounts, request, admissionId);
    accounts.drain().opened(ledger);
    return ledger;
  }

  /** A request refused before admission or by it, with the status the client got: recorded, nothing to settle. */
  public static void refusedEarly(Accounts accounts, RequestContext request, int status) {
    new RequestLedger(accounts, request, null).refused(status);
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

  /** No model server answered (queue full, no replica, cluster unreachable): {@code status} is what the client got. */
  void refused(int status) {
    finish(status, new TokenUsage(0, 0), false, false);
  }

  /**
   * The response body ended. It reached its end (the model's last event or the end of its JSON), broke off on the
   * model server's side, or neither: then the client went away, and the request is billed for what it was sent.
   */
  void bodyEnded() {
    boolean cut = !meter.reachedEnd() && !upstreamFailed;
    int status = upstreamStatus >= 400 ? upstreamStatus : upstreamFailed ? 502 : cut && endedByServer ? 503 : upstreamStatus;
    finish(status, meter.usage().orElse(new TokenUsage(0, 0)), cut && !endedByServer, cut && endedByServer);
  }

  private void finish(int status, TokenUsage usage, boolean clientDisconnected, boolean serverShutdown) {
    if (!finished.compareAndSet(false, true)) return;
    accounts.drain().closed(this);
    var user = request.caller().userId();
    if (admissionId != null) accounts.users().settle(user, admissionId, usage.promptTokens(), usage.completionTokens());
    Instant now = accounts.clock().instant();
    Instant startedAt = request.startedAt();
    Duration ttft = meter.firstTokenAt().map(t -> Duration.between(startedAt, t)).orElse(null);
    accounts.writer().record(new UsageRecord(request.requestId(), user.value(), text(request.caller().credentialLabel()),
        text(request.model()), text(request.endpoint()), jobId, request.stream(), status, usage.promptTokens(),
        usage.completionTokens(), ttft, Duration.between(startedAt, now), clientDisconnected, serverShutdown, startedAt));
  }

  /** What the client sent may be missing or long (a model name is anything until checked): keep the record valid. */
  private static String text(String value) {
    if (value == null || value.isBlank()) return "-";
    return value.length() > UsageRecord.MAX_TEXT ? value.substring(0, UsageRecord.MAX_TEXT) : value;
  }
}
