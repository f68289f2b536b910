package sluice.agent.sched;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import sluice.agent.sched.JobRecords.Remembered;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.config.SlurmTime;
import sluice.agent.wire.Messages.CancelResult;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * Runs service jobs on a real Slurm cluster with sbatch, squeue and scancel, as the login-node account the gateway's
 * key logs in to.
 *
 * <p>A job is the agent's own when its comment is {@link SluiceComment}, its name equals the comment's tag and the
 * service is configured here; everything else the account runs is invisible to the gateway. squeue forgets finished
 * jobs after Slurm's MinJobAge, so the agent remembers each job in {@code <state-dir>/slurm-jobs/<id>.json} ({@link JobRecords}) and reports
 * one that vanished without a final state as {@link JobState#UNKNOWN} (ended, cause unknown), never as running.
 * Several agent processes (one per SSH channel) may share the state folder: submissions are serialised by a file lock
 * and every file write is a rename.
 */
public final class SlurmScheduler implements Scheduler {
  private static final Logger LOG = Logger.getLogger(SlurmScheduler.class.getName());
  private static final Pattern JOB_ID = Pattern.compile("[0-9]{1,18}");
  private static final Pattern HOST = Pattern.compile("[A-Za-z0-9._-]{1,253}|\\[[0-9A-Fa-f:.]{2,45}]");
  private static final int MAX_OUTPUT = 16 << 20;
  /** The job's output file, {@code %j} being the job id; {@link #outputFile} resolves it. */
  private static final String OUTPUT_PATTERN = "slurm-%j.out";

  private final AgentConfig.Slurm settings;
  private final Map<String, ServiceSpec> services;
  private final Path jobsDir;
  private final JobRecords records;
  private final Path lockFile;
  private final Map<String, String> commandEnv;
  private final Clock clock;
  /** Ports of the agent's jobs from their comments, for {@link #endpoint}. */
  private final Map<String, Integer> ports = new ConcurrentHashMap<>();
  /** Tokens of the agent's jobs, read once from their owner-only token files, for {@link #token}. */
  private final Map<String, String> tokens = new ConcurrentHashMap<>();
  /** The last listing, this process's or another agent process's on the login node. */
  private final ListingCache listings;
  private final AtomicBoolean refreshing = new AtomicBoolean();

  /**
   * @param commandEnv extra environment for every Slurm command (and so every job), on top of the agent's own; the
   *     agent passes none, tests pass {@code SLURM_CONF}
   */
  public SlurmScheduler(Path stateDir, AgentConfig.Slurm settings, Map<String, ServiceSpec> services,
                        Map<String, String> commandEnv, Clock clock) {
    this.settings = settings;
    this.services = Map.copyOf(services);
    this.jobsDir = stateDir.resolve("jobs").toAbsolutePath();
    this.records = new JobRecords(stateDir.resolve("slurm-jobs").toAbsolutePath());
    this.lockFile = stateDir.resolve("slurm.lock").toAbsolutePath();
    this.commandEnv = Map.copyOf(commandEnv);
    this.clock = clock;
    this.listings = new ListingCache(stateDir.toAbsolutePath(), settings.listingMaxAge(), this::plausible);
    try {
      Files.createDirectories(jobsDir);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create " + jobsDir, e);
    }
  }

  @Override public JobInfo submit(ServiceSpec service, String tag) throws SchedulerException {
    if (tag == null || !SluiceComment.TOKEN.matcher(tag).matches()) throw new SchedulerException("malformed job tag");
    if (!services.containsKey(service.id())) throw new SchedulerException("service " + service.id() + " is not configured");
    return SubmitLock.holding(lockFile, () -> {
      List<JobInfo> known = listing();
      Optional<JobInfo> existing = known.stream().filter(j -> j.tag().equals(tag)).findFirst();
      if (existing.isPresent()) {                      // a retried submit must not start a second job
        if (!existing.get().service().equals(service.id())) {
          throw new SchedulerException("tag " + tag + " already names job " + existing.get().id() + " of another service");
        }
        LOG.info(() -> "submit of tag " + tag + " answered with existing job " + existing.get().id());
        return existing.get();
      }
      int port = pickPort(known);
      SluiceComment comment = new SluiceComment(service.id(), tag, port);
      Map<String, String> env = new HashMap<>(service.environment());
      env.put("SLUICE_PORT", Integer.toString(port));
      env.put("SLUICE_SERVICE", service.id());
      env.put("SLUICE_JOB_TAG", tag);
      String token = JobTokens.newToken();                 // never in the comment: squeue shows comments to everyone
      env.put("SLUICE_JOB_TOKEN", token);
      // The job's output file is created owner-only: model servers log their arguments (vLLM's --api-key included)
      // and the jobs folder may sit on a file system other users can read.
      env.put("SLURM_UMASK", "0077");
      Output out = run(sbatchCommand(service, comment), env, Set.of(), "sbatch");
      String id = SlurmJobLine.parseSubmitted(out.stdout())
          .orElseThrow(() -> new SchedulerException("sbatch printed no job id: " + clip(out.stdout())));
      Long limit = service.timeLimit().map(Duration::getSeconds).orElse(null);
      JobInfo job = new JobInfo(id, service.id(), tag, JobState.PENDING, null, clock.instant(), null, null, limit,
          "None", null);
      ports.put(id, port);
      records.writeToken(id, token);
      records.write(Remembered.of(job, port, null));
      tokens.put(id, token);
      listings.invalidate();                           // the new job is not in the last listing
      LOG.info(() -> "submitted Slurm job " + id + " for service " + service.id() + " tag " + tag + " port " + port);
      return job;
    });
  }

  List<String> sbatchCommand(ServiceSpec service, SluiceComment comment) {
    List<String> cmd = new ArrayList<>(List.of(settings.sbatch(), "--parsable",
        "--job-name=" + comment.tag(), "--comment=" + comment.encode(),
        "--time=" + service.timeLimit().map(SlurmTime::format).orElse("UNLIMITED"),
        "--chdir=" + jobsDir, "--output=" + jobsDir.resolve(OUTPUT_PATTERN),
        // stderr into the same file (what the logs call reads): on the command line, so that an "#SBATCH --error"
        // in the job script cannot split it off. Slurm writes both streams of the job to the one file.
        "--error=" + jobsDir.resolve(OUTPUT_PATTERN),
        // Explicit, so neither SBATCH_EXPORT nor an #SBATCH line can drop SLUICE_PORT from the job's environment.
        "--export=ALL"));
    service.slurm().partition().or(settings::partition).ifPresent(p -> cmd.add("--partition=" + p));
    service.slurm().account().or(settings::account).ifPresent(a -> cmd.add("--account=" + a));
    service.slurm().gres().or(settings::gres).ifPresent(g -> cmd.add("--gres=" + g));
    cmd.addAll(service.slurm().sbatchArgs());
    cmd.add(service.sbatch().toAbsolutePath().toString());
    return cmd;
  }

  @Override public List<JobInfo> jobs() throws SchedulerException {
    return listing();
  }

  @Override public Optional<JobInfo> job(String jobId) throws SchedulerException {
    if (jobId == null || !JOB_ID.matcher(jobId).matches()) return Optional.empty();
    ListingCache.Answer cached = listings.lookup(jobId, clock.instant());
    switch (cached.freshness()) {
      case FRESH:
        return cached.job();
      case RUNNING_OLD:
        // A running job is served from the listing; an old listing is refreshed in the background, never on the
        // request's path: squeue takes 9 s to fail while slurmctld is down or restarting, and the jobs keep running
        // without it (the model server still checks the job's secret). A job that ended meanwhile fails the
        // forward, which the gateway retries elsewhere.
        refreshInBackground(jobId);
        return cached.job();
      default:
        break;
    }
    try {
      return listing().stream().filter(j -> j.id().equals(jobId)).findFirst();
    } catch (SchedulerException e) {
      // No listing of our own (this agent process has served nothing yet) and squeue fails: the state folder, shared
      // by every agent process on the login node, remembers the job's last state; a running job keeps serving.
      Optional<JobInfo> remembered = records.read(jobId).map(Remembered::toJobInfo)
          .filter(j -> j.state() == JobState.RUNNING);
      if (remembered.isEmpty()) throw e;
      LOG.fine(() -> "squeue failed (" + e.getMessage() + "); job " + jobId + " served as last remembered");
      return remembered;
    }
  }

  /** A listing another agent process wrote serves only if it names nothing this process would not list itself. */
  private boolean plausible(JobListing l) {
    return l.jobs().stream().allMatch(j -> j.id() != null && JOB_ID.matcher(j.id()).matches() && j.state() != null
        && j.service() != null && services.containsKey(j.service()))
        && l.ports().entrySet().stream().allMatch(e -> JOB_ID.matcher(e.getKey()).matches()
            && e.getValue() > 0 && e.getValue() <= 65535);
  }

  private void refreshInBackground(String jobId) {
    if (!refreshing.compareAndSet(false, true)) return;
    // A refresh that ended between this call's lookup and taking the flag has renewed the listing already: a second
    // squeue would be one more for slurmctld (seen in SlurmSchedulerTest, about 1 run in 150).
    if (listings.lookup(jobId, clock.instant()).freshness() == ListingCache.Freshness.FRESH) {
      refreshing.set(false);
      return;
    }
    Thread t = new Thread(() -> {
      try {
        listing();
      } catch (SchedulerException e) {
        LOG.fine(() -> "background squeue failed: " + e.getMessage());
      } finally {
        refreshing.set(false);
      }
    }, "squeue-refresh");
    t.setDaemon(true);
    t.start();
  }


  @Override public Optional<CancelResult> cancel(String jobId) throws SchedulerException {
    Optional<JobInfo> job = job(jobId);
    if (job.isEmpty()) return Optional.empty();
    if (job.get().state().isFinal()) return Optional.of(new CancelResult(jobId, false, job.get().state()));
    run(List.of(settings.scancel(), job.get().id()), Map.of(), Set.of("SCANCEL_"), "scancel");
    listings.invalidate();
    LOG.info(() -> "cancelled Slurm job " + jobId + " (" + job.get().service() + ", " + job.get().state() + ")");
    return Optional.of(new CancelResult(jobId, true, job.get().state()));
  }

  @Override public Optional<String> token(JobInfo job) {
    String t = tokens.get(job.id());
    if (t == null && JOB_ID.matcher(job.id()).matches()) t = records.token(job.id()).orElse(null);
    if (t != null) tokens.put(job.id(), t);
    return Optional.ofNullable(t);
  }

  @Override public Optional<Path> outputFile(JobInfo job) {
    if (!JOB_ID.matcher(job.id()).matches()) return Optional.empty();
    return Optional.of(jobsDir.resolve(OUTPUT_PATTERN.replace("%j", job.id())));
  }

  @Override public Optional<URI> endpoint(JobInfo job) {
    if (job.state() != JobState.RUNNING || job.node() == null || job.node().isEmpty()) return Optional.empty();
    Integer port = ports.get(job.id());
    if (port == null) port = listings.port(job.id()).orElse(null);       // listed by another agent process
    if (port == null) port = records.read(job.id()).map(Remembered::port).orElse(null);
    String node = SlurmJobLine.firstNode(job.node());
    if (port == null || node == null) return Optional.empty();
    String host = settings.nodeAddress().replace("{node}", node);
    // The node name comes from squeue; still, only a plain host name or address may become the URI's authority.
    if (!HOST.matcher(host).matches()) {
      LOG.warning(() -> "job " + job.id() + ": node address " + host + " is not a host name");
      return Optional.empty();
    }
    return Optional.of(URI.create("http://" + host + ":" + port));
  }

  /**
   * One squeue call, merged with what the agent remembers. The remembered files are read before squeue runs: a job
   * another agent process submits in between then either shows up in squeue or is not looked at yet, so it is never
   * mistaken for one that vanished.
   */
  private List<JobInfo> listing() throws SchedulerException {
    Map<String, Remembered> remembered = records.all();
    ListingCache.Ticket ticket = listings.begin(clock.instant());
    // squeue prints local time: pin it to UTC, and drop variables that would change its format or filter its output.
    Output out = run(List.of(settings.squeue(), "--me", "-t", "all", "-h", "-o", SlurmJobLine.FORMAT),
        Map.of("TZ", "UTC"), Set.of("SQUEUE_", "SLURM_TIME_FORMAT"), "squeue");
    Instant now = clock.instant();
    Map<String, JobInfo> result = new HashMap<>();
    Map<String, Integer> listedPorts = new HashMap<>();
    for (SlurmJobLine line : SlurmJobLine.parseAll(out.stdout(), ZoneOffset.UTC)) {
      Optional<SluiceComment> c = line.ours();
      if (c.isEmpty()) continue;
      Remembered before = remembered.remove(line.id());            // still in squeue, so not vanished
      if (!services.containsKey(c.get().service())) continue;       // a service taken out of the config
      JobInfo info = line.toJobInfo(c.get());
      ports.put(info.id(), c.get().port());
      if (expired(info, now)) {
        if (before != null) forget(info.id());
        continue;
      }
      // Secrets live in <id>.token (JobRecords.writeToken); only a record from before token files still carries one.
      Remembered seen = Remembered.of(info, c.get().port(), before != null ? before.token() : null);
      if (!seen.equals(before)) records.write(seen);                  // adopts jobs another state folder submitted, too
      result.put(info.id(), info);
      listedPorts.put(info.id(), c.get().port());
    }
    for (Remembered r : remembered.values()) {
      Remembered last = r;
      if (!r.state().isFinal()) {
        last = new Remembered(r.id(), r.service(), r.tag(), r.port(), r.submitTime(), JobState.UNKNOWN, r.node(),
            r.startTime(), now, r.timeLimitSeconds(), "vanished from squeue while " + r.state() + ": ended, cause unknown",
            r.token());
        LOG.warning("Slurm job " + r.id() + " (" + r.service() + ") vanished from squeue while " + r.state());
        records.write(last);
      }
      JobInfo info = last.toJobInfo();
      if (expired(info, now)) forget(r.id());
      else if (services.containsKey(r.service())) {
        result.put(info.id(), info);
        listedPorts.put(info.id(), r.port());
      }
    }
    List<JobInfo> list = new ArrayList<>(result.values());
    list.sort(Comparator.comparing((JobInfo j) -> j.id().length()).thenComparing(JobInfo::id));
    list = List.copyOf(list);
    listings.store(ticket, list, listedPorts);
    return list;
  }

  private boolean expired(JobInfo j, Instant now) {
    return j.state().isFinal() && j.endTime() != null && j.endTime().plus(settings.keepFinished()).isBefore(now);
  }

  /** A random port of the range that none of the agent's unfinished jobs uses (they may share a node). */
  private int pickPort(List<JobInfo> known) {
    Set<Integer> taken = new HashSet<>();
    // Ended jobs count too while squeue lists them: a cancelled model server may hold its port for KillWait, and a new
    // job on that port would find it answering its health path in its place.
    for (JobInfo j : known) {
      if (ports.containsKey(j.id())) taken.add(ports.get(j.id()));
    }
    int size = settings.portHigh() - settings.portLow() + 1;
    for (int attempt = 0; attempt < 64; attempt++) {
      int p = settings.portLow() + ThreadLocalRandom.current().nextInt(size);
      if (!taken.contains(p)) return p;
    }
    for (int p = settings.portLow(); p <= settings.portHigh(); p++) if (!taken.contains(p)) return p;
    return settings.portLow() + ThreadLocalRandom.current().nextInt(size);     // all taken: the node may still have room
  }

  private void forget(String id) {
    ports.remove(id);
    tokens.remove(id);
    records.delete(id);
  }

  record Output(String stdout, String stderr) {}

  /**
   * Runs one Slurm command: an argv list (never a shell), stdin from /dev/null, both outputs read fully, killed after
   * {@code command-timeout}. A non-zero exit fails with the command's stderr, which is Slurm's own explanation.
   */
  private Output run(List<String> argv, Map<String, String> extraEnv, Set<String> dropEnvPrefixes, String what)
      throws SchedulerException {
    ProcessBuilder pb = new ProcessBuilder(argv).redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
    Map<String, String> env = pb.environment();
    env.keySet().removeIf(k -> dropEnvPrefixes.stream().anyMatch(k::startsWith));
    env.putAll(commandEnv);
    env.putAll(extraEnv);
    Process p;
    try {
      p = pb.start();
    } catch (IOException e) {
      throw new SchedulerException(what + " could not be started: " + e.getMessage(), e);
    }
    CompletableFuture<String> stdout = drain(p.getInputStream());
    CompletableFuture<String> stderr = drain(p.getErrorStream());
    try {
      if (!p.waitFor(settings.commandTimeout().toMillis(), TimeUnit.MILLISECONDS)) {
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
        throw new SchedulerException(what + " did not finish within " + settings.commandTimeout().toSeconds() + "s");
      }
      String out = stdout.get(5, TimeUnit.SECONDS);
      String err = stderr.get(5, TimeUnit.SECONDS);
      if (p.exitValue() != 0) {
        throw new SchedulerException(what + " failed (exit " + p.exitValue() + "): " + clip(err.isBlank() ? out : err));
      }
      if (!err.isBlank()) LOG.fine(() -> what + " said: " + clip(err));
      return new Output(out, err);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      p.destroyForcibly();
      throw new SchedulerException(what + " interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      p.destroyForcibly();
      throw new SchedulerException("cannot read the output of " + what + ": " + e, e);
    }
  }

  private static CompletableFuture<String> drain(InputStream in) {
    CompletableFuture<String> f = new CompletableFuture<>();
    Thread t = new Thread(() -> {
      try (in) {
        byte[] bytes = in.readNBytes(MAX_OUTPUT);
        in.transferTo(OutputStream.nullOutputStream());      // never block the command on a full pipe
        f.complete(new String(bytes, StandardCharsets.UTF_8));
      } catch (IOException e) {
        f.completeExceptionally(e);
      }
    }, "slurm-command-output");
    t.setDaemon(true);
    t.start();
    return f;
  }

  private static String clip(String s) {
    String t = Objects.requireNonNullElse(s, "").strip();
    return t.length() > 500 ? t.substring(0, 500) + "…" : t;
  }
}
