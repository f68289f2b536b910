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
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpTimeoutException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
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
  /** Request bodies up to this size are read whole before the upstream request starts; larger ones stream. */
  private static final long WHOLE_BODY_BYTES = 1 << 20;
  /**
   * The lines of a logs reply, as JSON, fit in this: the reply travels in one HEADERS frame, and a head above the
   * peer's 16 KiB limit would end the whole session, not just this call. The rest of the head needs under 100 bytes.
   */
  static final int LOGS_JSON_BYTES = Limits.DEFAULT.maxHeadBytes() - 512;

  /**
   * Threads for calls that may block (sbatch, squeue, scancel, probes, log tails, and a forward's checks); a forward
   * leaves its thread once its exchange has started, so this bounds the agent's threads whatever the number of streams.
   */
  static final int CALL_THREADS = 16;
  /**
   * The HTTP client's executor, which runs its non-blocking callbacks, and the threads that start the exchanges whose
   * request body came after the call ({@code sendAsync} may resolve the node's name, which blocks; the session's
   * reader thread must not).
   */
  static final int IO_THREADS = Math.min(4, Math.max(2, Runtime.getRuntime().availableProcessors()));

  private final AgentConfig config;
  private final Scheduler scheduler;
  private final ThreadPoolExecutor calls;
  private final ExecutorService io;
  /** Sends the response bytes streams held back (see ResponseFrames): one thread shared by all of them. */
  private final ScheduledExecutorService frameTimer;
  private final Object changesLock = new Object();
  private int changesInFlight;                           // guarded by changesLock
  private final HttpClient http;

  public Agent(AgentConfig config, Scheduler scheduler) {
    this.config = config;
    this.scheduler = scheduler;
    AtomicInteger callThreads = new AtomicInteger();
    this.calls = new ThreadPoolExecutor(CALL_THREADS, CALL_THREADS, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(),
        r -> new CallThread(r, "agent-call-" + callThreads.incrementAndGet()));
    calls.allowCoreThreadTimeOut(true);
    this.io = Executors.newFixedThreadPool(IO_THREADS, daemonThreads("agent-io-"));
    this.frameTimer = Executors.newSingleThreadScheduledExecutor(daemonThreads("agent-frames-"));
    this.http = HttpClient.newBuilder()
        .version(HttpClient.Version.HTTP_1_1)                 // vLLM and mock-llm speak plain HTTP/1.1
        .connectTimeout(config.upstream().connectTimeout())
        .followRedirects(HttpClient.Redirect.NEVER)
        // A pool, not the selector thread itself: running the callbacks there saved a short request about seven
        // wake-ups, but a 2,000-token stream ran at half the speed in the bench (docs/operations.md,
        // "Thread hand-offs").
        .executor(io)
        .build();
  }

  /** The session's acceptor (on its reader thread, which must not block): runs each call on a call thread. */
  public void accept(MuxStream stream) {
    calls.execute(() -> serve(stream));
  }

  /** Stops the agent's threads; upstream requests still running are aborted with them. */
  public void close() {
    calls.shutdownNow();
    io.shutdownNow();
    frameTimer.shutdownNow();
  }

  /** A thread for calls that may block; an exchange it starts connects on it (UpstreamExchange#send). */
  static final class CallThread extends Thread {
    CallThread(Runnable task, String name) {
      super(task, name);
      setDaemon(true);
    }
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
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
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "job is " + job.get().state(), false)));
    }
    HttpRequest.Builder probe = HttpRequest.newBuilder(endpoint.get().resolve(service.healthPath()))
        .timeout(config.upstream().probeTimeout()).GET();
    scheduler.token(job.get()).ifPresent(t -> probe.header("Authorization", "Bearer " + t));
    HttpRequest req = probe.build();
    try {
      HttpResponse<Void> resp = http.send(req, HttpResponse.BodyHandlers.discarding());
      boolean ready = resp.statusCode() / 100 == 2;
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(ready, resp.statusCode(), "health answered " + resp.statusCode(), false)));
    } catch (HttpTimeoutException e) {
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0,
          "health check timed out after " + config.upstream().probeTimeout().toMillis() + " ms", true)));
    } catch (IOException e) {
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "health check failed: " + e.getClass().getSimpleName(), false)));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return Reply.ok(WireJson.tree(new Messages.ProbeResult(false, 0, "interrupted", false)));
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
   * Checks a forward against the agent's own config and jobs, then hands it to an {@link UpstreamExchange}, which
   * streams the request to the job's model server and the response back without holding this thread.
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
    long length;
    try {
      length = contentLength(f);
    } catch (IllegalArgumentException e) {
      reply(stream, Reply.error(400, BAD_REQUEST, e.getMessage()));
      return;
    }
    UpstreamExchange exchange = new UpstreamExchange(stream, f, upstreamRequest(f, endpoint.get(), scheduler.token(job.get())),
        http, io, frameTimer, config.upstream().minFrameInterval());
    if (length == 0) {
      exchange.start(RequestBodies.none(exchange));
    } else if (length > 0 && length <= WHOLE_BODY_BYTES) {
      exchange.start(new RequestBodies.Whole(exchange, stream, (int) length));
    } else {
      RequestBodies.Streamed body = new RequestBodies.Streamed(stream);
      exchange.send(body.publisher(length));
      exchange.start(body);
    }
  }

  /** The announced body length: 0 for none, -1 for a body of unknown length; refuses what the agent does not take. */
  private long contentLength(Messages.Forward f) {
    String length = f.headers().get("content-length");
    if (length == null) return -1;
    long n;
    try {
      n = Long.parseLong(length);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("content-length is not a number");
    }
    if (n < 0 || n > config.upstream().maxRequestBytes()) throw new IllegalArgumentException("request body too large");
    return n;
  }

  private HttpRequest.Builder upstreamRequest(Messages.Forward f, URI endpoint, Optional<String> token) {
    HttpRequest.Builder b = HttpRequest.newBuilder(endpoint.resolve(f.path()))
        .timeout(config.upstream().headersTimeout());
    f.headers().forEach((k, v) -> {
      if (REQUEST_HEADERS.contains(k)) b.header(k, v);
    });
    // The job's own secret, never the gateway's: the client's Authorization header is not on the allow-list.
    token.ifPresent(t -> b.header("Authorization", "Bearer " + t));
    if (f.requestId() != null && !f.headers().containsKey("x-request-id")) b.header("x-request-id", f.requestId());
    return b;
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

  static void replyQuietly(MuxStream stream, Reply reply) {
    try {
      stream.sendReply(reply, true);
    } catch (StreamResetException | IllegalStateException e) {
      stream.reset(UPSTREAM_ERROR, reply.error() == null ? "failed" : reply.error().message());
    }
  }

  static String pathOnly(String path) {
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
