package sluice.bench;

import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.function.ToDoubleFunction;

/** Renders a lifecycle run as docs/benchmarks-lifecycle.md and as console lines. Pure: same data, same text. */
final class LifecycleReport {
  /** The targets. */
  static final double TARGET_DECISION_MS = 2000;

  /**
   * One scale-up run. Times in ms are counted from the moment the bench sent the burst (bench clock), except
   * {@code decisionMs}, which is the gateway's own {@code scaling.demand_at → decided_at}; NaN when not seen.
   *
   * @param burstToDecidedMs burst sent → {@code scaling.decided_at}: both on this machine's wall clock
   * @param secondReadyMs    burst sent → the new replica's {@code ready_at}; NaN when it was not ready before the
   *                         burst was answered (the first replica had finished it, and scale-down cancelled the job)
   */
  record ScaleUpRun(double coldStartSeconds, double decisionMs, double burstToDecidedMs, double clientSawTargetMs,
                    double clientSawSubmittedMs, double agentSubmittedMs, double secondReadyMs, int burstFailed,
                    String firstFailure, double backToZeroSeconds) {}

  /**
   * The renewal step.
   *
   * @param agentJobs    the service's jobs in the agent's state dir, submitted before the load ended
   * @param expectedJobs the first job plus one per renewal that came due ({@link Renewals#expectedJobs})
   */
  record RenewalResult(int clients, int tokens, double seconds, long requests, long failed, List<String> failures,
                       Renewals.Group during, Renewals.Group outside, List<Renewals.Renewal> renewals, List<String> jobIds,
                       int agentJobs, int expectedJobs, long pollsWithoutReplica, int polls, long longestWithoutReplicaMs) {
    RenewalResult {
      failures = List.copyOf(failures);
      renewals = List.copyOf(renewals);
      jobIds = List.copyOf(jobIds);
    }

    boolean noGap() {
      return !renewals.isEmpty() && renewals.stream().allMatch(r -> r.overlap() != null && !r.overlap().isNegative());
    }
  }

  /**
   * One kill and restart.
   *
   * @param startToHttpSeconds process start → the admin API answers (JVM and gateway started, HTTP bound)
   * @param newSubmissions     the agent's job id counter after minus before: jobs submitted across this restart
   */
  record RecoveryRun(double killToSuccessSeconds, double startToSuccessSeconds, double startToHttpSeconds, int attempts,
                     long newSubmissions,
                     int jobsBefore, int jobsAfter, List<String> jobIdsBefore, List<String> jobIdsAfter) {
    RecoveryRun {
      jobIdsBefore = List.copyOf(jobIdsBefore);
      jobIdsAfter = List.copyOf(jobIdsAfter);
    }

    boolean sameJobs() {
      return jobIdsBefore.equals(jobIdsAfter);
    }
  }

  /** @param renewal null when the step did not run to the end */
  record Data(ZonedDateTime at, Duration took, String command, Machine machine, String loadBefore, String loadAfter,
              LifecycleBench.Plan plan, List<ScaleUpRun> scaleUps, RenewalResult renewal, List<RecoveryRun> recoveries,
              List<String> notes, List<String> leftovers) {
    Data {
      scaleUps = List.copyOf(scaleUps);
      recoveries = List.copyOf(recoveries);
      notes = List.copyOf(notes);
      leftovers = List.copyOf(leftovers);
    }
  }

  /** One target or check: what it asks, what was measured, and whether it is met (empty: not measured). */
  record Target(String goal, String measured, Optional<Boolean> met) {}

  private LifecycleReport() {}

  static List<Target> targets(Data d) {
    List<Target> out = new ArrayList<>();
    String g1 = "Scale-up decided ≤ " + fmt(TARGET_DECISION_MS / 1000, 0) + " s after a demand step";
    if (d.scaleUps().isEmpty()) {
      out.add(new Target(g1, "not measured", Optional.empty()));
    } else {
      Spread s = spread(d.scaleUps(), ScaleUpRun::burstToDecidedMs);
      boolean all = d.scaleUps().stream().allMatch(r -> !Double.isNaN(r.burstToDecidedMs()));
      out.add(new Target(g1, "burst sent → decided: max " + fmt(s.max(), 0) + " ms over " + d.scaleUps().size() + " runs",
          Optional.of(all && s.max() <= TARGET_DECISION_MS)));
    }
    String g2 = "Renewal under load: 0 failed requests";
    RenewalResult r = d.renewal();
    if (r == null) {
      out.add(new Target(g2, "not measured", Optional.empty()));
    } else {
      out.add(new Target(g2, r.failed() + " failed of " + fmt(r.requests(), 0) + " requests across " + r.renewals().size()
          + (r.renewals().size() == 1 ? " renewal" : " renewals"),
          Optional.of(r.failed() == 0 && r.renewals().size() >= d.plan().renewals())));
    }
    String g3 = "Recovery after SIGKILL: 0 new job submissions";
    if (d.recoveries().isEmpty()) {
      out.add(new Target(g3, "not measured", Optional.empty()));
    } else {
      long submitted = d.recoveries().stream().mapToLong(RecoveryRun::newSubmissions).sum();
      boolean same = d.recoveries().stream().allMatch(RecoveryRun::sameJobs);
      out.add(new Target(g3, submitted + " new submissions over " + d.recoveries().size() + " restarts; the same job "
          + (same ? "served after every restart" : "did **not** serve after every restart"),
          Optional.of(submitted == 0 && same)));
    }
    return out;
  }

  /** Further checks of the renewal step that the architecture promises (no gap, no duplicate submission). */
  static List<Target> checks(Data d) {
    RenewalResult r = d.renewal();
    if (r == null) return List.of();
    String overlaps = r.renewals().stream().map(x -> x.overlap() == null ? "none" : fmt(x.overlap().toMillis(), 0) + " ms")
        .reduce((a, b) -> a + ", " + b).orElse("no renewal");
    return List.of(
        new Target("Renewal: the replacement is ready before the old replica drains (overlap ≥ 0)", overlaps,
            r.renewals().isEmpty() ? Optional.empty() : Optional.of(r.noGap())),
        new Target("Renewal: one job per renewal, no duplicate submission", r.agentJobs() + " jobs, expected "
            + r.expectedJobs(), Optional.of(r.agentJobs() == r.expectedJobs())));
  }

  static boolean allMet(Data d) {
    List<Target> all = new ArrayList<>(targets(d));
    all.addAll(checks(d));
    return d.notes().isEmpty() && all.stream().allMatch(t -> t.met().orElse(false));
  }

  static Spread spread(List<ScaleUpRun> runs, ToDoubleFunction<ScaleUpRun> f) {
    return Spread.of(runs.stream().mapToDouble(f).filter(v -> !Double.isNaN(v)).boxed().toList());
  }

  static Spread spreadOf(List<RecoveryRun> runs, ToDoubleFunction<RecoveryRun> f) {
    return Spread.of(runs.stream().mapToDouble(f).filter(v -> !Double.isNaN(v)).boxed().toList());
  }

  static String console(Data d) {
    StringBuilder b = new StringBuilder();
    for (Target t : targets(d)) b.append("target: ").append(t.goal()).append(": ").append(t.measured()).append(" -> ").append(verdict(t, false)).append('\n');
    for (Target t : checks(d)) b.append("check: ").append(t.goal()).append(": ").append(t.measured()).append(" -> ").append(verdict(t, false)).append('\n');
    return b.toString().replace("**", "");
  }

  static String markdown(Data d) {
    StringBuilder b = new StringBuilder();
    Machine m = d.machine();
    LifecycleBench.Plan plan = d.plan();
    b.append("# Benchmarks: replica lifecycle\n\n");
    b.append("Written by `bin/sluice bench --lifecycle` (bench/README.md) on ")
        .append(d.at().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm zzz", Locale.ROOT)))
        .append(". Every number on this page was measured in that one run, on the machine described below; none is "
            + "estimated or copied from elsewhere. Throughput and latency of the request path are in "
            + "[benchmarks.md](benchmarks.md); what the lifecycle promises is in "
            + "[architecture.md](architecture.md#replica-lifecycle-and-guarantees).\n\n");
    shared(d).ifPresent(s -> b.append(s).append("\n\n"));

    b.append("## Targets\n\n| target | measured | met? |\n|---|---|---|\n");
    for (Target t : targets(d)) b.append(row(t));
    for (Target t : checks(d)) b.append(row(t));
    b.append('\n');
    if (!d.notes().isEmpty()) {
      b.append("**Not everything could be measured:**\n\n");
      d.notes().forEach(n -> b.append("- ").append(n.replace("\n", " ")).append('\n'));
      b.append('\n');
    }
    if (!d.leftovers().isEmpty()) {
      b.append("**The gateway's shutdown left processes behind**, which the bench killed: ")
          .append(String.join(", ", d.leftovers())).append(".\n\n");
    }

    scaleUpSection(b, d);
    renewalSection(b, d);
    recoverySection(b, d);
    methodSection(b, d);

    b.append("## Machine\n\n| | |\n|---|---|\n");
    b.append("| cores (`nproc`) | ").append(m.cores()).append(" |\n");
    b.append("| memory | ").append(m.memory()).append(" |\n");
    b.append("| CPU | ").append(m.cpuModel()).append(" |\n");
    b.append("| `java -version` | ").append(m.java()).append(" |\n");
    b.append("| Linux kernel | ").append(m.kernel()).append(" |\n");
    b.append("| load average (1, 5, 15 min) before / after the run | ").append(d.loadBefore()).append(" / ")
        .append(d.loadAfter()).append(" |\n\n");
    b.append("Everything ran on this one machine: the bench (load and admin polls), the gateway, the agent, the job "
        + "runners and every mock-llm JVM shared its ").append(m.cores()).append(" cores. Start-up times (cold start, "
        + "process start → first success) are mostly JVM start-up and JIT work, so they grow with the machine's load.\n\n");

    b.append("## Reproduce\n\n```\n").append(d.command()).append("\n```\n\n");
    b.append("Runs ").append(plan.scaleUps()).append(" scale-up runs, ").append(plan.renewals()).append(plan.renewals() == 1 ? " renewal" : " renewals")
        .append(" and ").append(plan.recoveries()).append(" restarts (`--quick`: ").append(LifecycleBench.Plan.QUICK.scaleUps())
        .append(", ").append(LifecycleBench.Plan.QUICK.renewals()).append(" and ").append(LifecycleBench.Plan.QUICK.recoveries())
        .append("). `--out FILE` writes elsewhere. No Slurm sandbox is needed. This run took ")
        .append(Math.round(d.took().toSeconds() / 6.0) / 10.0).append(" minutes.\n");
    return b.toString();
  }

  /** A sentence when other processes competed for the CPU: load average above half the cores before the run. */
  static Optional<String> shared(Data d) {
    double load;
    try {
      load = Double.parseDouble(d.loadBefore().trim().split("\\s+")[0]);
    } catch (RuntimeException e) {
      return Optional.empty();
    }
    if (load <= d.machine().cores() * 0.5) return Optional.empty();
    return Optional.of("**Shared machine.** The load average was " + fmt(load, 2) + " on " + d.machine().cores()
        + " cores when the run started (" + d.loadAfter().trim().split("\\s+")[0] + " when it ended): other processes "
        + "competed for the CPU, so JVM start-up times here (cold start, restart) are longer than on an "
        + "idle machine.");
  }

  private static void scaleUpSection(StringBuilder b, Data d) {
    b.append("## 1. Scale-up decision and cold start\n\n");
    if (d.scaleUps().isEmpty()) {
      b.append("Not measured.\n\n");
      return;
    }
    List<ScaleUpRun> runs = d.scaleUps();
    b.append("Service `").append(LifecycleStack.SCALEUP).append("`: min-replicas 0, max ").append(LifecycleStack.SCALEUP_MAX)
        .append(", `max-inflight-per-replica = ").append(LifecycleStack.SCALEUP_PER_REPLICA).append("`, `scale-down-delay = ")
        .append(LifecycleStack.SCALE_DOWN_DELAY.toSeconds()).append("s`, `idle-to-zero = ").append(LifecycleStack.IDLE_TO_ZERO.toSeconds())
        .append("s`. Each run starts at zero replicas: one short request (cold start), then, with that one replica "
            + "ready, a burst of ").append(LifecycleBench.BURST).append(" concurrent requests of ").append(LifecycleBench.BURST_TOKENS)
        .append(" tokens at ").append(LifecycleStack.SCALEUP_TOKEN_DELAY_MS).append(" ms each (twice what one replica "
            + "carries), then the service is left to scale down to zero by itself. The bench polls "
            + "`GET /admin/services/").append(LifecycleStack.SCALEUP).append("` every 25 ms during the burst. ")
        .append(runs.size()).append(" runs.\n\n");
    b.append("| measurement | unit | min | median | max | samples |\n|---|---|--:|--:|--:|---|\n");
    b.append(spreadRow("cold start: request to a model at zero replicas → answered", "s", spread(runs, ScaleUpRun::coldStartSeconds), 2));
    b.append(spreadRow("**demand step → decided**: burst sent → `scaling.decided_at`", "ms", spread(runs, ScaleUpRun::burstToDecidedMs), 0));
    b.append(spreadRow("decision inside the actor: `scaling.demand_at` → `decided_at`", "ms", spread(runs, ScaleUpRun::decisionMs), 1));
    b.append(spreadRow("burst sent → admin API shows target 2", "ms", spread(runs, ScaleUpRun::clientSawTargetMs), 0));
    b.append(spreadRow("burst sent → admin API lists the new job as submitted (has a job id)", "ms", spread(runs, ScaleUpRun::clientSawSubmittedMs), 0));
    b.append(spreadRow("burst sent → the agent's state dir has the new job", "ms", spread(runs, ScaleUpRun::agentSubmittedMs), 0));
    b.append(spreadRow("burst sent → the new replica's `ready_at`", "ms", spread(runs, ScaleUpRun::secondReadyMs), 0));
    b.append(spreadRow("burst answered → back at zero replicas, no job left", "s", spread(runs, ScaleUpRun::backToZeroSeconds), 1));
    b.append('\n');
    if (runs.stream().allMatch(r -> r.decisionMs() == 0)) {
      b.append("`demand_at` equals `decided_at` in every run: the new target is decided in the same actor step as the "
          + "request that did not fit, so the time from the burst to the decision is the requests' way into the "
          + "gateway. ");
    }
    int failed = runs.stream().mapToInt(ScaleUpRun::burstFailed).sum();
    long notReady = runs.stream().filter(r -> Double.isNaN(r.secondReadyMs())).count();
    b.append("Burst requests failed: ").append(failed).append(" of ").append(runs.size() * LifecycleBench.BURST);
    runs.stream().map(ScaleUpRun::firstFailure).filter(Objects::nonNull).findFirst()
        .ifPresent(f -> b.append(" (first: `").append(f.replace("`", "'")).append("`)"));
    b.append(".");
    if (notReady > 0) {
      b.append(" In ").append(notReady).append(notReady == 1 ? " run" : " runs").append(" the new replica was not ready "
          + "before the burst was answered (the first replica finished it), so it has no `ready_at` sample.");
    }
    b.append("\n\n");
  }

  private static void renewalSection(StringBuilder b, Data d) {
    b.append("## 2. Renewal under load\n\n");
    RenewalResult r = d.renewal();
    if (r == null) {
      b.append("Not measured.\n\n");
      return;
    }
    b.append("Service `").append(LifecycleStack.RENEWAL).append("`: jobs with a Slurm time limit of `")
        .append(LifecycleStack.RENEWAL_TIME_LIMIT).append("` (24 s) and `renew-before = ")
        .append(LifecycleStack.RENEW_BEFORE.toSeconds()).append("s`, so a replacement is submitted 12 s into each job. ")
        .append(r.clients()).append(" clients in a closed loop (half of them streaming), each request ").append(r.tokens())
        .append(" tokens at ").append(LifecycleStack.RENEWAL_TOKEN_DELAY_MS).append(" ms, for ").append(fmt(r.seconds(), 1))
        .append(" s: ").append(fmt(r.requests(), 0)).append(" requests, ").append(r.failed()).append(" failed. A request "
            + "counts as *during a renewal* when it overlaps a renewal window: from the replacement's submission until "
            + "the old job was seen gone. On this one machine the replacement's JVM starts on the same cores that serve "
            + "the load, inside that window.\n\n");
    b.append("| renewal | old job | replacement | replacement submitted → ready | window length | overlap: old `draining_at` − replacement `ready_at` |\n");
    b.append("|--:|---|---|--:|--:|--:|\n");
    int i = 1;
    for (Renewals.Renewal x : r.renewals()) {
      b.append("| ").append(i++).append(" | ").append(x.oldJob()).append(" | ").append(x.newJob() == null ? "–" : x.newJob())
          .append(" | ").append(x.startup() == null ? "–" : fmt(x.startup().toMillis() / 1000.0, 1) + " s")
          .append(" | ").append(fmt(Duration.between(x.windowStart(), x.windowEnd()).toMillis() / 1000.0, 1)).append(" s | ")
          .append(x.overlap() == null ? "**no replacement ready**" : fmt(x.overlap().toMillis(), 0) + " ms").append(" |\n");
    }
    b.append("\nPositive overlap: the replacement was ready (and routable) before the old replica stopped taking "
        + "requests, so there was no gap.\n\n");
    b.append("| requests | count | failed | p50 ms | p99 ms | max ms |\n|---|--:|--:|--:|--:|--:|\n");
    b.append(groupRow("during renewal windows", r.during()));
    b.append(groupRow("outside", r.outside()));
    b.append('\n');
    b.append("Jobs of the service in the agent's state dir: ").append(r.agentJobs()).append(" (").append(String.join(", ", r.jobIds()))
        .append(" seen by the admin API); expected ").append(r.expectedJobs()).append(": the first job plus one per "
            + "renewal that came due. Admin polls (every 100 ms) showing no routable replica: ").append(r.pollsWithoutReplica())
        .append(" of ").append(r.polls());
    if (r.pollsWithoutReplica() > 0) b.append(" (longest stretch at most ").append(r.longestWithoutReplicaMs()).append(" ms)");
    b.append(".\n\n");
    if (!r.failures().isEmpty()) {
      b.append("First failures:\n\n");
      r.failures().forEach(f -> b.append("- `").append(f.replace("`", "'")).append("`\n"));
      b.append('\n');
    }
  }

  private static void recoverySection(StringBuilder b, Data d) {
    b.append("## 3. Recovery after SIGKILL\n\n");
    List<RecoveryRun> runs = d.recoveries();
    if (runs.isEmpty()) {
      b.append("Not measured.\n\n");
      return;
    }
    b.append("Service `").append(LifecycleStack.RECOVERY).append("` with one ready replica (min = max = 1, set through "
        + "the admin API). Each run kills the gateway with SIGKILL (`Process.destroyForcibly`: no shutdown, no job "
        + "cancelled; the agent, a child of the gateway, exits on the EOF of its stdin, the job keeps running) and at "
        + "once starts it again with the same config, data dir (journal) and agent state dir. The bench polls the admin API "
        + "every 50 ms until it answers, then sends a short request (which waits in the queue while the job is "
        + "re-adopted), repeated every 100 ms should it fail, until one succeeds; it waits 2 s, then compares the agent's job id counter and the "
        + "service's jobs with those before the kill. ").append(runs.size()).append(" runs.\n\n");
    b.append("| measurement | unit | min | median | max | samples |\n|---|---|--:|--:|--:|---|\n");
    b.append(spreadRow("kill → first successful completion", "s", spreadOf(runs, RecoveryRun::killToSuccessSeconds), 2));
    b.append(spreadRow("process start → the admin API answers (JVM and gateway started, HTTP bound)", "s", spreadOf(runs, RecoveryRun::startToHttpSeconds), 2));
    b.append(spreadRow("admin API answers → first successful completion (agent connected, job re-listed and probed)", "s",
        spreadOf(runs, r -> r.startToSuccessSeconds() - r.startToHttpSeconds()), 2));
    b.append(spreadRow("process start → first successful completion", "s", spreadOf(runs, RecoveryRun::startToSuccessSeconds), 2));
    b.append('\n');
    b.append("| run | requests until success | new submissions | agent's jobs before → after | serving job before → after |\n");
    b.append("|--:|--:|--:|---|---|\n");
    int i = 1;
    for (RecoveryRun r : runs) {
      b.append("| ").append(i++).append(" | ").append(r.attempts()).append(" | ").append(r.newSubmissions()).append(" | ")
          .append(r.jobsBefore()).append(" → ").append(r.jobsAfter()).append(" | ").append(String.join(", ", r.jobIdsBefore()))
          .append(" → ").append(String.join(", ", r.jobIdsAfter())).append(" |\n");
    }
    b.append('\n');
  }

  private static void methodSection(StringBuilder b, Data d) {
    b.append("## Method\n\n");
    b.append("- **Path.** The embedded path: the gateway in its own JVM (`java -jar http-edge/target/sluice.jar serve "
        + "--config FILE`, default JVM options), the agent as its child process on pipes (local transport), the local "
        + "scheduler running `sbatch/mock-llm.sbatch` as the jobs (each a mock-llm JVM under a detached job runner, with "
        + "Slurm's time-limit semantics). One gateway serves three services, one per step, which run one after the "
        + "other. Configs, logs and the agent's state dir are kept in `bench/target/run/lifecycle/`.\n");
    b.append("- **Gateway settings** that shape the numbers: cluster `poll-interval = ").append(LifecycleStack.POLL_INTERVAL.toMillis())
        .append("ms` (job listing), `readiness.probe-interval = ").append(LifecycleStack.PROBE_INTERVAL.toMillis())
        .append("ms`, `cancel-jobs-on-shutdown = on`; everything else is the default.\n");
    b.append("- **Clocks.** `demand_at`, `decided_at`, `ready_at` and `draining_at` are the gateway's timestamps; the "
        + "bench's own times (burst sent, kill, first success) come from the same machine's wall clock, so they can be "
        + "subtracted. Times that end with what the admin API or the state dir shows are late by up to one poll interval "
        + "(25 ms in step 1, 100 ms in step 2).\n");
    b.append("- **Success** of a request: HTTP 200 and, non-streaming, exactly the requested tokens; streaming, a body "
        + "ending in `data: [DONE]` without an error event. Anything else, including a connection error, is a failure.\n");
    b.append("- **Latency** is from just before sending to the last byte of the body. Percentiles are nearest-rank over "
        + "all successful requests of the group. *min/median/max* over a step's runs; *samples* lists every run's value "
        + "in run order.\n\n");
  }

  private static String row(Target t) {
    return "| " + t.goal() + " | " + t.measured() + " | " + verdict(t, true) + " |\n";
  }

  private static String verdict(Target t, boolean markdown) {
    return t.met().map(ok -> ok ? "met" : markdown ? "**not met**" : "NOT MET").orElse("not measured");
  }

  static String spreadRow(String what, String unit, Spread s, int decimals) {
    StringBuilder samples = new StringBuilder();
    for (double v : s.samples()) samples.append(samples.length() == 0 ? "" : ", ").append(fmt(v, decimals));
    return "| " + what + " | " + unit + " | " + fmt(s.min(), decimals) + " | " + fmt(s.median(), decimals) + " | "
        + fmt(s.max(), decimals) + " | " + (s.count() == 0 ? "–" : samples) + " |\n";
  }

  private static String groupRow(String what, Renewals.Group g) {
    return "| " + what + " | " + fmt(g.requests(), 0) + " | " + g.failed() + " | " + fmt(g.p50(), 1) + " | "
        + fmt(g.p99(), 1) + " | " + fmt(g.max(), 1) + " |\n";
  }

  static String fmt(double v, int decimals) {
    if (Double.isNaN(v)) return "–";
    return String.format(Locale.ROOT, "%,." + decimals + "f", v);
  }
}
