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
  private final UserDirectory users;
  private final UsageWriter writer;
  private final Clock clock;
  private final String requestId;
  private final String admissionId;
  private final String userId;
  private final String keyId;
  private final String model;
  private final String endpoint;
  private final boolean stream;
  private final boolean admitted;
  private final Instant startedAt;
  private final UsageMeter meter;
  private final AtomicBoolean finished = new AtomicBoolean();
  private volatile String jobId;
  private volatile int upstreamStatus;
  private volatile boolean upstreamFailed;

  private RequestLedger(UserDirectory users, UsageWriter writer, Clock clock, String requestId, String admissionId,
                        String userId, String keyId, String model, String endpoint, boolean stream, boolean admitted,
                        Instant startedAt) {
    this.users = users;
    this.writer = writer;
    this.clock = clock;
    this.requestId = requestId;
    this.admissionId = admissionId;
    this.userId = userId;
    this.keyId = keyId;
    this.model = model;
    this.endpoint = endpoint;
    this.stream = stream;
    this.admitted = admitted;
    this.startedAt = startedAt;
    this.meter = new UsageMeter(clock);
  }

  /** A request the user actor admitted under {@code admissionId}: it must be settled, which {@link #finish} does. */
  public static RequestLedger admitted(UserDirectory users, UsageWriter writer, Clock clock, Instant startedAt, String requestId,
                                       String admissionId, String userId, String keyId, String model, String endpoint,
                                       boolean stream) {
    return new RequestLedger(users, writer, clock, requestId, admissionId, userId, keyId, model, endpoint, stream, true,
        startedAt);
  }

  /** A request refused before admission or by it: recorded, nothing to settle. */
  public static void refusedEarly(UsageWriter writer, Clock clock, Instant startedAt, String requestId, String userId,
                                  String keyId, String model, String endpoint, boolean stream, int status) {
    new RequestLedger(null, writer, clock, requestId, null, userId, keyId, model, endpoint, stream, false, startedAt)
        .refused(status);
  }

  public UsageMeter meter() { return meter; }

  /** The model server answered with a head; what follows is metered. */
  void upstream(String jobId, int status) {
    this.jobId = jobId;
    this.upstreamStatus = status;
  }

  /** The model server's body broke off (the client got an error event or a cut connection). */
  void upstreamFailed() { upstreamFailed = true; }

  /** No model server answered (queue full, no replica, cluster unreachable): {@code status} is what the client got. */
  void refused(int status) {
    finish(status, new TokenUsage(0, 0), false);
  }

  /**
   * The response body ended. It reached its end (the model's last event or the end of its JSON), broke off on the
   * model server's side, or neither: then the client went away, and the request is billed for what it was sent.
   */
  void bodyEnded() {
    boolean disconnected = !meter.reachedEnd() && !upstreamFailed;
    finish(upstreamFailed && upstreamStatus < 400 ? 502 : upstreamStatus, meter.usage().orElse(new TokenUsage(0, 0)), disconnected);
  }

  private void finish(int status, TokenUsage usage, boolean clientDisconnected) {
    if (!finished.compareAndSet(false, true)) return;
    if (admitted) users.settle(userId, admissionId, usage.promptTokens(), usage.completionTokens());
    Instant now = clock.instant();
    Duration ttft = meter.firstTokenAt().map(t -> Duration.between(startedAt, t)).orElse(null);
    writer.record(new UsageRecord(requestId, userId, text(keyId), text(model), text(endpoint), jobId, stream, status,
        usage.promptTokens(), usage.completionTokens(), ttft, Duration.between(startedAt, now), clientDisconnected, startedAt));
  }

  /** What the client sent may be missing or long (a model name is anything until checked): keep the record valid. */
  private static String text(String value) {
    if (value == null || value.isBlank()) return "-";
    return value.length() > UsageRecord.MAX_TEXT ? value.substring(0, UsageRecord.MAX_TEXT) : value;
  }
}
