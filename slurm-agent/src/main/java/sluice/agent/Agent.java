package sluice.agent;

import static sluice.agent.wire.ProblemCode.BAD_REQUEST;
import static sluice.agent.wire.ProblemCode.INTERNAL;
import static sluice.agent.wire.ProblemCode.JOB_NOT_RUNNING;
import static sluice.agent.wire.ProblemCode.PATH_NOT_ALLOWED;
import static sluice.agent.wire.ProblemCode.SCHEDULER_ERROR;
import static sluice.agent.wire.ProblemCode.UNKNOWN_JOB;
import static sluice.agent.wire.ProblemCode.UNKNOWN_SERVICE;
import static sluice.agent.wire.ProblemCode.UPSTREAM_ERROR;

import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.logging.Level;
import java.util.logging.Logger;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.sched.Scheduler;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.Messages.Call;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.Reply;
import sluice.agent.wire.MuxStream;
import sluice.agent.wire.StreamResetException;
import sluice.agent.wire.WireJson;

/**
 * Serves the calls of one gateway connection. Every decision is made from the agent's own config and its own jobs:
 * the gateway may only name a configured service, a job this agent submitted, and a path that service allows.
 */
public final class Agent {
  private static final Logger LOG = Logger.getLogger(Agent.class.getName());
  /** Request headers passed to the model server; everything else the gateway sends is dropped. */
  private static final Set<String> REQUEST_HEADERS = Set.of("content-type", "accept", "x-request-id");
  /** Response headers passed back; hop-by-hop and server-identifying headers stay behind. */
  private static final Set<String> RESPONSE_HEADERS = Set.of("content-type", "content-length", "retry-after");
  /** Request bodies up to this size are read whole before the upstream request starts; larger ones stream. */
  private static final long WHOLE_BODY_BYTES = 1 << 20;
  /**
   * The lines of a logs reply, as JSON, fit in this: the reply travels in one HEADERS frame, and a head above the
   * peer's 16 KiB limit would end the whole session, not just this call. The rest of the head needs under 100 bytes.
   */
  static final int LOGS_JSON_BYTES = Limits.DEFAULT.maxHeadBytes() - 512;

  private final AgentConfig config;
  private final Scheduler scheduler;
  private final ExecutorService workers;
  private final Object changesLock = new Object();
  private int changesInFlight;                           // guarded by changesLock
  private final HttpClient http;

  public Agent(AgentConfig config, Scheduler scheduler, ExecutorService workers) {
    this.config = config;
    this.scheduler = scheduler;
    this.workers = workers;
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)                 // vLLM and mock-llm speak plain HTTP/1.1
        .connectTimeout(config.upstream().connectTimeout())
        .followRedirects(HttpClient.Redirect.NEVER)
        .executor(workers)
        .build();
  }

  /** The session's acceptor: runs each call on a worker thread. */
  public void accept(MuxStream stream) {
    workers.execute(() -> serve(stream));
  }

  private void serve(MuxStream stream) {
    Call call = stream.call();
    try {
      if (call instanceof Messages.Forward f) forward(stream, f);
      else if (call instanceof Messages.Submit s) reply(stream, changing(() -> submit(s)));
      else if (call instanceof Messages.Cancel c) reply(stream, changing(() -> cancel(c)));
      else if (call instanceof Messages.Probe p) reply(stream, probe(p));
      else if (call instanceof Messages.Logs l) reply(stream, logs(l));
      else reply(stream, Reply.ok(WireJson.tree(new Messages.JobList(scheduler.jobs()))));
    } catch (Scheduler.SchedulerException e) {
      LOG.warning(() -> "scheduler failed on " + describe(call) + ": " + e.getMessage());
      replyQuietly(stream, Reply.error(503, SCHEDULER_ERROR, e.getMessage()));
    } catch (StreamResetException e) {
      LOG.fine(() -> "stream " + stream.id() + " reset during " + describe(call) + ": " + e.code());
    } catch (RuntimeException e) {
      LOG.log(Level.WARNING, "call " + describe(call) + " failed", e);
      stream.reset(INTERNAL, "agent error");
    }
  }

  private interface SchedulerCall {
    Reply run() throws Scheduler.SchedulerException;
  }

  /** Counts a call that changes the cluster, so the end of the session can wait for it (see {@link #awaitChanges}). */
  private Reply changing(SchedulerCall call) throws Scheduler.SchedulerException {
    synchronized (changesLock) {
      changesInFlight++;
    }
    try {
      return call.run();
    } finally {
      synchronized (changesLock) {
        changesInFlight--;
        changesLock.notifyAll();
      }
    }
  }

  /**
   * Waits up to {@code timeout} for submissions and cancellations still running when the session ended: a gateway
   * that went away mid-submit must find either a whole job or none, never a half-made one, when it comes back.
   */
  public void awaitChanges(Duration timeout) throws InterruptedException {
    long until = System.nanoTime() + timeout.toNanos();
    synchronized (changesLock) {
      while (changesInFlight > 0) {
        long left = until - System.nanoTime();
        if (left <= 0) return;
        TimeUnit.NANOSECONDS.timedWait(changesLock, left);
      }
    }
  }

  private Reply submit(Messages.Submit s) throws Scheduler.SchedulerException {
    ServiceSpec service = config.service(s.service());
    if (service == null) return refuse(404, UNKNOWN_SERVICE, "service " + s.service() + " is not configured on this agent");
    return Reply.ok(WireJson.tree(scheduler.submit(service, s.tag())));
  }

  private Reply cancel(Messages.Cancel c) throws Scheduler.SchedulerException {
    return scheduler.cancel(c.job())
        .map(r -> Reply.ok(WireJson.tree(r)))
        .orElseGet(() -> refuse(404, UNKNOWN_JOB, "job " + c.job() + " was not submitted by this agent"));
  }

  private Reply probe(Messages.Probe p) throws Scheduler.SchedulerException {
    ServiceSpec service = config.service(p.service());
    if (service == null) return refuse(404, UNKNOWN_SERVICE, "service " + p.service() + " is not configured on this agent");
    Optional<JobInfo> job = ownJob(p.service(), p.job());
    if (job.isEmpty()) return refuse(404, UNKNOWN_JOB, "job " + p.job() + " of " + p.service() + " is unknown to this agent");
    Optional<URI> endpoint = scheduler.endpoint(job.get());
    if (endpoint.isEmpty()) {
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "job is " + job.get().state())));
    }
    HttpRequest.Builder probe = HttpRequest.newBuilder(endpoint.get().resolve(service.healthPath()))
        .timeout(config.upstream().probeTimeout()).GET();
    scheduler.token(job.get()).ifPresent(t -> probe.header("Authorization", "Bearer " + t));
    HttpRequest req = probe.build();
    try {
      HttpResponse<Void> resp = http.send(req, HttpResponse.BodyHandlers.discarding());
      boolean ready = resp.statusCode() / 100 == 2;
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(ready, resp.statusCode(), "health answered " + resp.statusCode())));
    } catch (IOException e) {
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "health check failed: " + e.getClass().getSimpleName())));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "interrupted")));
    }
  }

  /**
   * The end of the output file of one of the agent's own jobs, with the job's secret masked. The file is the
   * scheduler's choice for that job; the gateway names only service and job, checked as for a probe.
   */
  private Reply logs(Messages.Logs l) throws Scheduler.SchedulerException {
    if (config.service(l.service()) == null) {
      return refuse(404, UNKNOWN_SERVICE, "service " + l.service() + " is not configured on this agent");
    }
    Optional<JobInfo> job = ownJob(l.service(), l.job());
    if (job.isEmpty()) return refuse(404, UNKNOWN_JOB, "job " + l.job() + " of " + l.service() + " is unknown to this agent");
    Optional<Path> file = scheduler.outputFile(job.get());
    LogTail.Tail tail;
    try {
      tail = file.isEmpty() ? new LogTail.Tail(List.of(), false)
          : LogTail.read(file.get(), l.lines(), scheduler.token(job.get()), LOGS_JSON_BYTES);
    } catch (IOException e) {
      LOG.warning(() -> "cannot read the output of job " + l.job() + " (" + file.get() + "): " + e);
      return Reply.error(503, SCHEDULER_ERROR, "cannot read the output of job " + l.job() + ": " + e.getClass().getSimpleName());
    }
    return Reply.ok(WireJson.tree(new Messages.LogsResult(l.job(), tail.lines(), tail.truncated())));
  }

  /**
   * Streams a request to the job's model server and the response back. Credit on the mux stream is the backpressure:
   * a slow gateway reader blocks {@link MuxStream#write}, which stops reading the upstream body, which stops the model
   * server's TCP writes. A reset from the gateway (client gone) closes the upstream body, which aborts the request.
   */
  private void forward(MuxStream stream, Messages.Forward f) throws Scheduler.SchedulerException, StreamResetException {
    ServiceSpec service = config.service(f.service());
    if (service == null) {
      reply(stream, refuse(404, UNKNOWN_SERVICE, "service " + f.service() + " is not configured on this agent"));
      return;
    }
    if (!service.allows(f.method(), f.path())) {
      reply(stream, refuse(403, PATH_NOT_ALLOWED, f.method() + " " + pathOnly(f.path()) + " is not allowed for " + f.service()));
      return;
    }
    Optional<JobInfo> job = ownJob(f.service(), f.job());
    Optional<URI> endpoint = job.flatMap(scheduler::endpoint);
    if (endpoint.isEmpty()) {
      reply(stream, refuse(job.isEmpty() ? 404 : 409, job.isEmpty() ? UNKNOWN_JOB : JOB_NOT_RUNNING,
          job.map(j -> "job " + j.id() + " is " + j.state()).orElse("job " + f.job() + " is unknown to this agent")));
      return;
    }
    HttpRequest request;
    try {
      request = upstreamRequest(stream, f, endpoint.get(), scheduler.token(job.get()));
    } catch (IllegalArgumentException e) {
      reply(stream, Reply.error(400, BAD_REQUEST, e.getMessage()));
      return;
    } catch (IOException e) {
      if (stream.resetReason() != null) throw new StreamResetException(stream.resetReason());
      reply(stream, Reply.error(400, BAD_REQUEST, "request body could not be read: " + e.getMessage()));
      return;
    }
    HttpResponse<InputStream> response;
    long started = System.nanoTime();
    try {
      response = http.send(request, HttpResponse.BodyHandlers.ofInputStream());
    } catch (HttpTimeoutException e) {
      replyQuietly(stream, Reply.error(504, UPSTREAM_ERROR, "model server sent no response head in time"));
      return;
    } catch (IOException e) {
      if (stream.resetReason() != null) throw new StreamResetException(stream.resetReason());
      replyQuietly(stream, Reply.error(502, UPSTREAM_ERROR, "model server unreachable: " + e.getClass().getSimpleName()));
      return;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      stream.reset(INTERNAL, "interrupted");
      return;
    }
    try (InputStream body = response.body()) {        // closing it early aborts the upstream request
      stream.sendReply(new Reply(response.statusCode(), responseHeaders(response), null, null), false);
      byte[] buf = new byte[16 * 1024];
      long bytes = 0;
      for (int n; (n = body.read(buf)) != -1; bytes += n) stream.write(buf, 0, n);
      stream.finish();
      // One line per forward, with the gateway's request id (it is also the model server's X-Request-Id): an operator
      // follows one request from the gateway's request log to here and to the model server's log.
      long sent = bytes;
      LOG.info(() -> "forward " + (f.requestId() == null ? "-" : f.requestId()) + " " + f.service() + " job " + f.job() + " "
          + f.method() + " " + pathOnly(f.path()) + " -> " + response.statusCode() + " in "
          + (System.nanoTime() - started) / 1_000_000 + " ms, " + sent + " bytes");
    } catch (StreamResetException e) {
      LOG.fine(() -> "request " + f.requestId() + " cancelled by the gateway (" + e.code() + ")");
    } catch (IOException e) {
      LOG.info(() -> "model server broke off request " + f.requestId() + ": " + e.getMessage());
      stream.reset(UPSTREAM_ERROR, "model server broke off the response");
    }
  }

  private HttpRequest upstreamRequest(MuxStream stream, Messages.Forward f, URI endpoint, Optional<String> token)
      throws IOException {
    HttpRequest.Builder b = HttpRequest.newBuilder(endpoint.resolve(f.path()))
        .timeout(config.upstream().headersTimeout());
    f.headers().forEach((k, v) -> {
      if (REQUEST_HEADERS.contains(k)) b.header(k, v);
    });
    // The job's own secret, never the gateway's: the client's Authorization header is not on the allow-list.
    token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
    if (f.requestId() != null && !f.headers().containsKey("x-request-id")) b.header("x-request-id", f.requestId());
    String length = f.headers().get("content-length");
    HttpRequest.BodyPublisher body;
    if (length != null) {
      long n;
      try {
        n = Long.parseLong(length);
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException("content-length is not a number");
      }
      if (n < 0 || n > config.upstream().maxRequestBytes()) throw new IllegalArgumentException("request body too large");
      // Streams the body from the mux stream as it arrives, yet sends a Content-Length like the original request.
      if (n == 0) {
        body = HttpRequest.BodyPublishers.noBody();
      } else if (n <= WHOLE_BODY_BYTES) {
        // The usual chat request: read it here, on this worker, and hand the client one array. Streaming it through
        // the client's publisher costs extra thread hand-offs on every request.
        byte[] whole = stream.inputStream().readNBytes((int) n);
        if (whole.length != n) throw new IllegalArgumentException("request body is shorter than its content-length");
        body = HttpRequest.BodyPublishers.ofByteArray(whole);
      } else {
        body = HttpRequest.BodyPublishers.fromPublisher(HttpRequest.BodyPublishers.ofInputStream(stream::inputStream), n);
      }
    } else {
      body = HttpRequest.BodyPublishers.ofInputStream(stream::inputStream);
    }
    return b.method(f.method(), body).build();
  }

  private static Map<String, String> responseHeaders(HttpResponse<?> response) {
    Map<String, String> out = new LinkedHashMap<>();
    response.headers().map().forEach((k, v) -> {
      String name = k.toLowerCase(Locale.ROOT);
      if (RESPONSE_HEADERS.contains(name) && !v.isEmpty()) out.put(name, v.get(0));
    });
    return out;
  }

  /** The job if this agent submitted it for this service; another service's job counts as unknown. */
  private Optional<JobInfo> ownJob(String service, String jobId) throws Scheduler.SchedulerException {
    return scheduler.job(jobId).filter(j -> j.service().equals(service));
  }

  private static Reply refuse(int status, ProblemCode code, String message) {
    LOG.warning(() -> "refused: " + code + ": " + message);
    return Reply.error(status, code, message);
  }

  private static void reply(MuxStream stream, Reply reply) throws StreamResetException {
    stream.sendReply(reply, true);
  }

  private static void replyQuietly(MuxStream stream, Reply reply) {
    try {
      stream.sendReply(reply, true);
    } catch (StreamResetException | IllegalStateException e) {
      stream.reset(UPSTREAM_ERROR, reply.error() == null ? "failed" : reply.error().message());
    }
  }

  private static String pathOnly(String path) {
    int q = path.indexOf('?');
    return q < 0 ? path : path.substring(0, q);
  }

  private static String describe(Call call) {
    if (call instanceof Messages.Submit s) return "submit " + s.service();
    if (call instanceof Messages.Cancel c) return "cancel " + c.job();
    if (call instanceof Messages.Probe p) return "probe " + p.service() + "/" + p.job();
    if (call instanceof Messages.Logs l) return "logs " + l.service() + "/" + l.job();
    if (call instanceof Messages.Forward f) return f.method() + " " + pathOnly(f.path()) + " on " + f.service() + "/" + f.job();
    return "jobs";
  }
}
