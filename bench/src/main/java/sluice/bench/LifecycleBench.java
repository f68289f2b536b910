package sluice.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Predicate;
import java.util.stream.Collectors;
import sluice.bench.LifecycleReport.RecoveryRun;
import sluice.bench.LifecycleReport.RenewalResult;
import sluice.bench.LifecycleReport.ScaleUpRun;

/**
 * {@code bin/sluice bench --lifecycle}: the replica lifecycle, measured on the embedded path. One gateway JVM with
 * three services runs three steps in turn: scale-up decision (and cold start), renewal under load, and recovery
 * after SIGKILL. Progress goes to stderr; the numbers go into {@link LifecycleReport.Data}.
 */
final class LifecycleBench {
  /** Burst requests: 50 tokens at 100 ms, so each holds its slot for about 5 s. */
  static final int BURST_TOKENS = 50;
  static final int BURST = LifecycleStack.SCALEUP_PER_REPLICA * LifecycleStack.SCALEUP_MAX;
  static final int RENEWAL_CLIENTS = 4;
  /** 10 tokens at 10 ms: about 0.1 s per request, so some are always in flight when a replica is drained. */
  static final int RENEWAL_TOKENS = 10;
  private static final Duration ADMIN_POLL = Duration.ofMillis(25);
  private static final Duration WATCH_POLL = Duration.ofMillis(100);
  private static final Duration READY_WAIT = Duration.ofSeconds(120);

  /** How many times each step runs: the full run and {@code --quick}. */
  record Plan(int scaleUps, int renewals, int recoveries) {
    static final Plan FULL = new Plan(3, 2, 3);
    static final Plan QUICK = new Plan(2, 1, 2);

    Plan {
      if (scaleUps < 1 || renewals < 1 || recoveries < 1) throw new IllegalArgumentException("each step runs at least once");
    }
  }

  private final LifecycleStack stack;
  private final HttpClient http;
  private final PrintStream err;
  private final List<String> notes = new ArrayList<>();

  private LifecycleBench(LifecycleStack stack, PrintStream err) {
    this.stack = stack;
    this.http = stack.http();
    this.err = err;
  }

  /** Runs the three steps and returns the report's data; the stack is always stopped and cleaned up. */
  static LifecycleReport.Data run(Path home, Path work, Plan plan, String command, PrintStream err)
      throws IOException, InterruptedException {
    long t0 = System.nanoTime();
    ensureJars(home);
    String loadBefore = loadAverage();
    Machine machine = Machine.describe(Map.of());
    LifecycleStack stack = LifecycleStack.create(home, work);
    err.printf("lifecycle: %d cores, %s, %s; logs and state in %s%n", machine.cores(), machine.memory(),
        machine.cpuModel(), stack.dir());
    AtomicReference<LifecycleStack> running = new AtomicReference<>(stack);
    Thread cleanup = new Thread(() -> {                         // Ctrl-C: still stop the gateway and its jobs
      LifecycleStack s = running.getAndSet(null);
      if (s != null) s.close();
    }, "lifecycle-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanup);
    LifecycleBench bench = new LifecycleBench(stack, err);
    List<ScaleUpRun> scaleUps = List.of();
    RenewalResult renewal = null;
    List<RecoveryRun> recoveries = List.of();
    List<String> leftovers;
    try {
      Instant started = stack.start();
      stack.awaitUp(READY_WAIT);
      err.printf("lifecycle: gateway up after %.1f s%n", since(started));
      scaleUps = bench.step("scale-up", () -> bench.scaleUps(plan.scaleUps()), List.of());
      renewal = bench.step("renewal", () -> bench.renewal(plan.renewals()), null);
      recoveries = bench.step("recovery", () -> bench.recoveries(plan.recoveries()), List.of());
    } catch (IOException | RuntimeException e) {
      bench.notes.add("the gateway did not start: " + firstLine(e.getMessage()));
      err.println("lifecycle: " + e.getMessage());
    } finally {
      err.println("lifecycle: stopping the gateway (it cancels its jobs)");
      LifecycleStack s = running.getAndSet(null);
      if (s != null) s.close();
      leftovers = stack.leftovers();
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException e) {
        // already shutting down: the hook ran or runs anyway
      }
    }
    if (!leftovers.isEmpty()) err.println("lifecycle: killed what the gateway left running: " + leftovers);
    return new LifecycleReport.Data(ZonedDateTime.now(), Duration.ofNanos(System.nanoTime() - t0), command, machine,
        loadBefore, loadAverage(), plan, scaleUps, renewal, recoveries, bench.notes, leftovers);
  }

  /** A step that may fail on its own: its failure becomes a note and the next step still runs. */
  private <T> T step(String name, Step<T> body, T otherwise) {
    err.println("lifecycle: step " + name);
    long t0 = System.nanoTime();
    try {
      T result = body.run();
      err.printf("lifecycle: step %s done in %.0f s%n", name, (System.nanoTime() - t0) / 1e9);
      return result;
    } catch (Exception e) {
      if (e instanceof InterruptedException) Thread.currentThread().interrupt();
      notes.add(name + " step failed: " + firstLine(String.valueOf(e.getMessage())));
      err.println("lifecycle: step " + name + " failed: " + e + "\n" + stack.logTail(20));
      return otherwise;
    }
  }

  private interface Step<T> {
    T run() throws Exception;
  }

  // ---------------------------------------------------------------- 1. scale-up decision and cold start

  /** Runs until done or until a run fails: the runs measured so far stay in the report, the failure becomes a note. */
  private List<ScaleUpRun> scaleUps(int runs) throws InterruptedException {
    List<ScaleUpRun> out = new ArrayList<>();
    for (int run = 1; run <= runs; run++) {
      try {
        out.add(scaleUpRun(LifecycleStack.SCALEUP, run, runs));
      } catch (IOException | RuntimeException e) {
        notes.add("scale-up run " + run + " of " + runs + " failed: " + firstLine(String.valueOf(e.getMessage())));
        err.println("lifecycle: scale-up run " + run + " failed: " + e + "\n" + stack.logTail(20));
        break;
      }
    }
    return out;
  }

  private ScaleUpRun scaleUpRun(String svc, int run, int runs) throws IOException, InterruptedException {
    awaitStatus(svc, s -> s.target() == 0 && s.live() == 0, "at zero replicas");
    awaitNoLiveJobs(Set.of(svc));

    // Cold start: a request to a model at zero replicas waits while a job starts.
    Instant coldSent = Instant.now();
    String cold = call(svc, false, 2, Duration.ofSeconds(120));
    double coldSeconds = since(coldSent);
    if (cold != null) throw new IOException("the cold-start request failed: " + cold);
    ServiceView one = awaitStatus(svc, s -> s.routable() == 1, "one ready replica");
    // Every job the service knew before the burst (ended ones of earlier runs included): the new one is not among them.
    Set<String> known = one.replicas().stream().map(ServiceView.Replica::jobId).collect(Collectors.toSet());

    // The burst: twice what one replica carries, all at once.
    long nextIdBefore = stack.agentJobs().nextId();
    List<String> problems = Collections.synchronizedList(new ArrayList<>());
    List<Thread> burst = new ArrayList<>();
    Instant burstSent = Instant.now();
    for (int i = 0; i < BURST; i++) {
      Thread t = new Thread(() -> {
        String p = call(svc, false, BURST_TOKENS, Duration.ofSeconds(120));
        if (p != null) problems.add(p);
      }, "burst-" + i);
      t.setDaemon(true);
      t.start();
      burst.add(t);
    }
    ServiceView atTarget = null;
    Instant seenTarget = null;
    Instant seenSubmitted = null;
    Instant agentSubmitted = null;
    Instant secondReady = null;
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < until && (seenTarget == null || seenSubmitted == null || agentSubmitted == null)) {
      ServiceView s = stack.status(svc);
      Instant now = Instant.now();
      if (seenTarget == null && s.target() >= 2) {
        seenTarget = now;
        atTarget = s;
      }
      if (seenSubmitted == null && s.replicas().stream().anyMatch(r -> !known.contains(r.jobId()) && r.submitted())) {
        seenSubmitted = now;
      }
      if (agentSubmitted == null && stack.agentJobs().nextId() > nextIdBefore) agentSubmitted = now;
      Thread.sleep(ADMIN_POLL.toMillis());
    }
    for (Thread t : burst) t.join(Duration.ofSeconds(150).toMillis());
    Instant burstDone = Instant.now();
    // The second replica's readiness, if it became ready before the burst ended (else it may have been cancelled).
    for (ServiceView.Replica r : stack.status(svc).replicas()) {
      if (!known.contains(r.jobId()) && r.readyAt() != null) secondReady = r.readyAt();
    }
    awaitStatus(svc, s -> s.target() == 0 && s.live() == 0, "back at zero replicas");
    double backToZero = since(burstDone);
    if (atTarget == null) throw new IOException("the target never reached 2 within 60 s of the burst");
    ScaleUpRun r = new ScaleUpRun(coldSeconds, millis(atTarget.demandAt(), atTarget.decidedAt()),
        millis(burstSent, atTarget.decidedAt()), millis(burstSent, seenTarget), millis(burstSent, seenSubmitted),
        millis(burstSent, agentSubmitted), millis(burstSent, secondReady), problems.size(),
        problems.isEmpty() ? null : problems.get(0), backToZero);
    err.printf("lifecycle: scale-up %d/%d: cold start %.2f s; decided %.0f ms after the burst (actor: %.0f ms from"
            + " demand); client saw target %.0f ms, job submitted %.0f ms; %d failed; back at zero %.1f s%n", run, runs,
        r.coldStartSeconds(), r.burstToDecidedMs(), r.decisionMs(), r.clientSawTargetMs(), r.clientSawSubmittedMs(),
        r.burstFailed(), r.backToZeroSeconds());
    return r;
  }

  // ---------------------------------------------------------------- 2. renewal under load

  private RenewalResult renewal(int renewals) throws IOException, InterruptedException {
    String svc = LifecycleStack.RENEWAL;
    stack.scale(svc, 1, 1);
    awaitStatus(svc, s -> s.routable() >= 1, "a ready replica");
    err.printf("lifecycle: renewal: %d clients (half streaming) until %d renewal%s are over%n", RENEWAL_CLIENTS,
        renewals, renewals == 1 ? "" : "s");
    List<Renewals.Request> requests = Collections.synchronizedList(new ArrayList<>());
    AtomicBoolean loading = new AtomicBoolean(true);
    List<Thread> clients = new ArrayList<>();
    Instant loadStart = Instant.now();
    for (int c = 0; c < RENEWAL_CLIENTS; c++) {
      boolean stream = c % 2 == 0;
      Thread t = new Thread(() -> {
        while (loading.get()) {
          Instant t0 = Instant.now();
          String p = call(svc, stream, RENEWAL_TOKENS, Duration.ofSeconds(60));
          requests.add(new Renewals.Request(t0, Instant.now(), stream, p));
          if (p != null) pause(10);                       // do not spin on a failing gateway
        }
      }, "renewal-client-" + c);
      t.setDaemon(true);
      t.start();
      clients.add(t);
    }
    // Watch the replicas as an operator would: every field the first time it is seen, and when each job is gone.
    Map<String, Track> tracks = new LinkedHashMap<>();
    List<Instant> pollAt = new ArrayList<>();
    List<Long> pollRoutable = new ArrayList<>();
    long deadline = System.nanoTime() + Duration.ofSeconds(30L + 20L * renewals).toNanos();
    Instant doneAt = null;
    while (System.nanoTime() < deadline) {
      ServiceView s = stack.status(svc);
      Instant now = Instant.now();
      pollAt.add(now);
      pollRoutable.add(s.routable());
      Set<String> present = s.replicas().stream().filter(ServiceView.Replica::submitted).map(ServiceView.Replica::jobId)
          .collect(Collectors.toSet());
      for (ServiceView.Replica r : s.replicas()) {
        if (!r.submitted()) continue;
        Track t = tracks.computeIfAbsent(r.jobId(), Track::new);
        t.see(r, now);
      }
      for (Track t : tracks.values()) if (!present.contains(t.jobId) && t.endedSeenAt == null) t.endedSeenAt = now;
      long over = tracks.values().stream().filter(t -> t.drainingAt != null && t.endedSeenAt != null).count();
      if (over >= renewals && doneAt == null) doneAt = now;
      if (doneAt != null && Duration.between(doneAt, now).toMillis() >= 1000) break;
      Thread.sleep(WATCH_POLL.toMillis());
    }
    loading.set(false);
    for (Thread t : clients) t.join(Duration.ofSeconds(90).toMillis());
    Instant loadEnd = Instant.now();
    List<Renewals.JobTrack> jobs = tracks.values().stream().map(Track::freeze).toList();
    List<Renewals.Request> all = List.copyOf(requests);
    List<Renewals.Renewal> done = Renewals.of(jobs);
    List<AgentJobs.Job> agentJobs = stack.agentJobs().of(svc).stream()
        .filter(j -> j.submitTime() == null || !j.submitTime().isAfter(loadEnd)).toList();
    int expected = Renewals.expectedJobs(jobs, LifecycleStack.RENEW_BEFORE, loadEnd);
    stack.scale(svc, 0, 1);                                      // idle-to-zero then stops it
    RenewalResult r = new RenewalResult(RENEWAL_CLIENTS, RENEWAL_TOKENS, millis(loadStart, loadEnd) / 1000, all.size(),
        all.stream().filter(x -> !x.ok()).count(),
        all.stream().filter(x -> !x.ok()).map(x -> x.start() + " " + x.error()).limit(3).toList(),
        Renewals.group(all, done, true), Renewals.group(all, done, false), done, jobs.stream().map(Renewals.JobTrack::jobId).toList(),
        agentJobs.size(), expected, pollRoutable.stream().filter(n -> n == 0).count(), pollAt.size(),
        Renewals.longestWithoutReplica(pollAt, pollRoutable).toMillis());
    if (done.size() < renewals) notes.add("renewal step: only " + done.size() + " of " + renewals + " renewals happened within the time allowed");
    err.printf("lifecycle: renewal: %d requests, %d failed, %d renewals, overlaps %s, jobs %d (expected %d)%n",
        r.requests(), r.failed(), done.size(), done.stream().map(x -> x.overlap() == null ? "none" : x.overlap().toMillis() + " ms").toList(),
        r.agentJobs(), r.expectedJobs());
    return r;
  }

  /** One job as the watcher saw it; fields keep the first value seen. */
  private static final class Track {
    final String jobId;
    Instant submittedAt;
    Instant startedAt;
    Instant endsAt;
    Instant readyAt;
    Instant drainingAt;
    Instant endedSeenAt;

    Track(String jobId) {
      this.jobId = jobId;
    }

    void see(ServiceView.Replica r, Instant now) {
      if (submittedAt == null) submittedAt = r.submittedAt();
      if (startedAt == null) startedAt = r.startedAt();
      if (endsAt == null) endsAt = r.endsAt();
      if (readyAt == null) readyAt = r.readyAt();
      if (drainingAt == null) drainingAt = r.drainingAt();
      if (endedSeenAt == null && !r.live()) endedSeenAt = now;
    }

    Renewals.JobTrack freeze() {
      return new Renewals.JobTrack(jobId, submittedAt, startedAt, endsAt, readyAt, drainingAt, endedSeenAt);
    }
  }

  // ---------------------------------------------------------------- 3. recovery after SIGKILL

  private List<RecoveryRun> recoveries(int runs) throws IOException, InterruptedException {
    String svc = LifecycleStack.RECOVERY;
    // Nothing else may be starting or stopping, so every job counted below belongs to the recovery service.
    awaitStatus(LifecycleStack.SCALEUP, s -> s.target() == 0 && s.live() == 0, "at zero replicas");
    awaitStatus(LifecycleStack.RENEWAL, s -> s.target() == 0 && s.live() == 0, "at zero replicas");
    awaitNoLiveJobs(Set.of(LifecycleStack.SCALEUP, LifecycleStack.RENEWAL));
    stack.scale(svc, 1, 1);
    awaitStatus(svc, s -> s.routable() == 1, "one ready replica");
    String check = call(svc, false, 2, Duration.ofSeconds(30));
    if (check != null) throw new IOException("the recovery service does not answer before the first kill: " + check);
    AgentJobs first = stack.agentJobs();
    List<String> jobIds = liveJobIds(svc);
    err.println("lifecycle: recovery: job " + jobIds + " serves; the agent has " + first.jobs().size() + " jobs, next id "
        + first.nextId());
    List<RecoveryRun> out = new ArrayList<>();
    for (int run = 1; run <= runs; run++) {
      try {
        out.add(recoveryRun(svc, jobIds, run, runs));
      } catch (IOException | RuntimeException e) {
        notes.add("recovery run " + run + " of " + runs + " failed: " + firstLine(String.valueOf(e.getMessage())));
        err.println("lifecycle: recovery run " + run + " failed: " + e + "\n" + stack.logTail(20));
        break;
      }
    }
    return out;
  }

  private RecoveryRun recoveryRun(String svc, List<String> jobIds, int run, int runs) throws IOException, InterruptedException {
    AgentJobs before = stack.agentJobs();
    Instant killed = stack.kill9();
    Instant started = stack.start();
    // First the HTTP binding (the admin API answers at once, while a chat request would wait for the replica).
    stack.awaitUp(READY_WAIT);
    Instant answered = Instant.now();
    int attempts = 0;
    String last = null;
    Instant ok = null;
    long until = System.nanoTime() + READY_WAIT.toNanos();
    while (System.nanoTime() < until) {
      attempts++;
      last = call(svc, false, 2, Duration.ofSeconds(60));
      if (last == null) {
        ok = Instant.now();
        break;
      }
      if (!stack.alive()) throw new IOException("the restarted gateway exited: " + stack.logTail(30));
      Thread.sleep(100);
    }
    if (ok == null) throw new IOException("no successful completion within " + READY_WAIT.toSeconds() + " s of the restart: " + last);
    Thread.sleep(2000);                       // a wrong submission would follow the first listing: give it the time
    AgentJobs after = stack.agentJobs();
    List<String> idsAfter = liveJobIds(svc);
    RecoveryRun r = new RecoveryRun(millis(killed, ok) / 1000, millis(started, ok) / 1000, millis(started, answered) / 1000, attempts,
        after.nextId() - before.nextId(), before.jobs().size(), after.jobs().size(), jobIds, idsAfter);
    err.printf("lifecycle: recovery %d/%d: kill -> first success %.2f s, process start -> HTTP up %.2f s,"
            + " -> first success %.2f s (%d attempts); new submissions %d; jobs %s -> %s%n", run, runs,
        r.killToSuccessSeconds(), r.startToHttpSeconds(), r.startToSuccessSeconds(), attempts, r.newSubmissions(), jobIds, idsAfter);
    return r;
  }

  private List<String> liveJobIds(String svc) throws IOException, InterruptedException {
    return stack.status(svc).replicas().stream().filter(ServiceView.Replica::live).map(ServiceView.Replica::jobId).sorted().toList();
  }

  // ---------------------------------------------------------------- helpers

  /** One chat completion; null when it fully succeeded, else what went wrong. Never throws. */
  private String call(String model, boolean stream, int tokens, Duration timeout) {
    try {
      HttpRequest req = Api.chat(stack.baseUri(), model, stream, tokens, timeout);
      HttpResponse<String> r = http.send(req, HttpResponse.BodyHandlers.ofString());
      return Api.problem(r.statusCode(), r.body(), stream, tokens);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return "interrupted";
    } catch (IOException | RuntimeException e) {
      return e.toString();
    }
  }

  private ServiceView awaitStatus(String svc, Predicate<ServiceView> condition, String what)
      throws IOException, InterruptedException {
    long until = System.nanoTime() + READY_WAIT.toNanos();
    ServiceView last = null;
    while (System.nanoTime() < until) {
      last = stack.status(svc);
      if (condition.test(last)) return last;
      Thread.sleep(ADMIN_POLL.toMillis() * 4);
    }
    throw new IOException("service " + svc + " not " + what + " within " + READY_WAIT.toSeconds() + " s; last: " + last);
  }

  /** The agent's own view: no job of these services is still running (cancellations have landed). */
  private void awaitNoLiveJobs(Set<String> services) throws IOException, InterruptedException {
    long until = System.nanoTime() + Duration.ofSeconds(60).toNanos();
    while (System.nanoTime() < until) {
      AgentJobs jobs = stack.agentJobs();
      if (services.stream().allMatch(s -> jobs.live(s) == 0)) return;
      Thread.sleep(200);
    }
    throw new IOException("jobs of " + services + " still running 60 s after the gateway stopped them");
  }

  private static void pause(long ms) {
    try {
      Thread.sleep(ms);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static double since(Instant t) {
    return Duration.between(t, Instant.now()).toNanos() / 1e9;
  }

  /** Milliseconds from a to b; NaN when either is unknown. */
  static double millis(Instant a, Instant b) {
    return a == null || b == null ? Double.NaN : Duration.between(a, b).toNanos() / 1e6;
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }

  /** The first three fields of /proc/loadavg (1, 5 and 15 minutes), "unknown" without /proc. */
  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unknown";
    }
  }

  static void ensureJars(Path home) throws IOException {
    for (String jar : List.of("http-edge/target/sluice.jar", "slurm-agent/target/slurm-agent.jar", "mock-llm/target/mock-llm.jar")) {
      if (!Files.isRegularFile(home.resolve(jar))) throw new IOException(home.resolve(jar) + " is missing: build with mvn -DskipTests package");
    }
  }
}
