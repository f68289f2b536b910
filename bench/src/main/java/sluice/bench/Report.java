package sluice.bench;

import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/** Renders a run as docs/benchmarks.md and as the console table. Pure: same data, same text. */
final class Report {
  /** Everything the report says; every number in it comes from {@code rows}. */
  record Data(ZonedDateTime at, Duration took, String command, Machine machine, Settings settings, List<Row> rows, List<Idle> idle,
              List<StreamRow> streams, List<Startup> startups, List<String> notes, String answer, boolean answersIdentical,
              Optional<String> sandbox) {
    Data {
      rows = List.copyOf(rows);
      idle = List.copyOf(idle);
      streams = List.copyOf(streams);
      startups = List.copyOf(startups);
      notes = List.copyOf(notes);
    }
  }

  private Report() {}

  static Optional<Row> find(List<Row> rows, String path, int clients) {
    return rows.stream().filter(r -> r.path().equals(path) && r.clients() == clients).findFirst();
  }

  static String console(List<Row> rows) {
    StringBuilder b = new StringBuilder(consoleHeader());
    rows.forEach(r -> b.append(consoleLine(rows, r)));
    return b.toString();
  }

  static String consoleHeader() {
    return String.format(Locale.ROOT, "%-9s %7s %9s %9s %9s %9s %9s %9s %10s %10s %7s%n", "path", "clients", "requests",
        "req/s", "p50 ms", "p90 ms", "p99 ms", "max ms", "+p50 ms", "+p99 ms", "errors");
  }

  /** One row; the added latencies need the direct rows of {@code rows}. */
  static String consoleLine(List<Row> rows, Row r) {
    Latency l = r.latency();
    return String.format(Locale.ROOT, "%-9s %7d %9d %9s %9s %9s %9s %9s %10s %10s %7d%n", r.path(), r.clients(),
        r.requests(), fmt(r.requestsPerSecond(), 0), ms(l.p50(), false), ms(l.p90(), false), ms(l.p99(), false),
        ms(l.max(), false), added(rows, r, true), added(rows, r, false), r.errors());
  }

  static String markdown(Data d) {
    Settings s = d.settings();
    Machine m = d.machine();
    StringBuilder b = new StringBuilder();
    b.append("# Benchmarks\n\n");
    b.append("Written by `bin/sluice bench` (bench/README.md) on ")
        .append(d.at().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm zzz", Locale.ROOT)))
        .append(". Every measured number on this page was measured in that one run, on the machine described below; "
            + "none is estimated or copied from elsewhere. The targets' goals are issue 16's; their *why* and the CPU "
            + "section's caps are arithmetic on this run's numbers. Rerun the command to replace the page.\n\n");
    b.append("The replica lifecycle (scale-up decision, renewal under load, recovery after SIGKILL) is measured "
        + "separately by `bin/sluice bench --lifecycle`: [benchmarks-lifecycle.md](benchmarks-lifecycle.md).\n\n");

    Targets.section(b, d);
    if (!d.notes().isEmpty()) {
      b.append("**Not everything could be measured:**\n\n");
      d.notes().forEach(n -> b.append("- ").append(n.replace("\n", " ")).append('\n'));
      b.append('\n');
    }

    b.append("## Results\n\n");
    b.append("Short non-streaming chat completions, closed loop. Each path first runs ").append(seconds(s.pathWarmup()))
        .append(" unrecorded at its highest concurrency (JIT warm-up of fresh JVMs); then each row has a ")
        .append(seconds(s.warmup())).append(" warm-up and a ")
        .append(seconds(s.window())).append(" measuring window per row. Latency is what the client saw, in "
            + "milliseconds. *Added* = this path's percentile minus the direct path's at the same concurrency.\n\n");
    b.append("| path | clients | requests | requests/s | p50 | p90 | p99 | max | added p50 | added p99 | errors |\n");
    b.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (Row r : d.rows()) {
      Latency l = r.latency();
      b.append("| ").append(r.path()).append(" | ").append(r.clients()).append(" | ").append(fmt(r.requests(), 0))
          .append(" | ").append(fmt(r.requestsPerSecond(), 0)).append(" | ").append(ms(l.p50(), false)).append(" | ")
          .append(ms(l.p90(), false)).append(" | ").append(ms(l.p99(), false)).append(" | ").append(ms(l.max(), false))
          .append(" | ").append(added(d.rows(), r, true)).append(" | ").append(added(d.rows(), r, false)).append(" | ")
          .append(r.errors()).append(" |\n");
    }
    b.append('\n');
    interference(d.rows()).ifPresent(b::append);

    cpuSection(b, d);
    StreamReport.section(b, d);
    methodSection(b, d);

    b.append("## Machine\n\n");
    b.append("| | |\n|---|---|\n");
    b.append("| cores (`nproc`) | ").append(m.cores()).append(" |\n");
    b.append("| memory | ").append(m.memory()).append(" |\n");
    b.append("| CPU | ").append(m.cpuModel()).append(" |\n");
    b.append("| `java -version` | ").append(m.java()).append(" |\n");
    b.append("| Linux kernel | ").append(m.kernel()).append(" |\n");
    b.append("| OpenSSH | ").append(m.openssh()).append(" |\n");
    b.append("| Slurm | ").append(m.slurm()).append(" |\n\n");
    b.append("Everything ran on this one machine and shared its ").append(m.cores()).append(" cores: the load generator, "
        + "the gateway, sshd, the agent, Slurm and munge, and mock-llm (and whatever else ran on the machine at the "
        + "time: see *other processes*). In production the gateway, the login node and the compute node are separate "
        + "machines, and the load generator is elsewhere.\n\n");

    b.append("## Reproduce\n\n```\n").append(d.command()).append("\n```\n\n");
    b.append("`bin/sluice bench` builds the jars if needed and runs `bench/target/bench.jar`. As root, it starts the "
        + "Slurm + sshd sandbox (`bin/hpc-sandbox start`) and stops it afterwards; with `SLUICE_HPC_SANDBOX` set it uses "
        + "that running sandbox instead. `--quick` shortens the windows; `--out FILE` writes elsewhere. This run took ")
        .append(Math.round(d.took().toSeconds() / 6.0) / 10.0).append(" minutes.\n");
    return b.toString();
  }

  private static void cpuSection(StringBuilder b, Data d) {
    b.append("## CPU per 1,000 requests\n\n");
    b.append("CPU seconds (user + system) per 1,000 completed requests, by component, during each measuring window "
        + "(the Method section says what each column holds). Empty cells: not part of that path. *cores busy* is the "
        + "share of all cores' time that was busy; *steal* the share the hypervisor gave to other machines.\n\n");
    List<String> columns = new ArrayList<>();
    for (String c : CpuUse.COMPONENTS) {
      if (d.rows().stream().anyMatch(r -> r.cpu().seconds().containsKey(c))) columns.add(c);
    }
    b.append("| path | clients |");
    columns.forEach(c -> b.append(' ').append(c).append(" |"));
    b.append(" whole machine | cores busy | steal |\n|---|--:|");
    columns.forEach(c -> b.append("--:|"));
    b.append("--:|--:|--:|\n");
    for (Row r : d.rows()) {
      b.append("| ").append(r.path()).append(" | ").append(r.clients()).append(" |");
      for (String c : columns) {
        double v = r.cpu().perThousand(c, r.requests());
        b.append(' ').append(Double.isNaN(v) ? "" : fmt(v, 3)).append(" |");
      }
      b.append(' ').append(fmt(r.cpu().machineBusySeconds() * 1000.0 / Math.max(1, r.requests()), 3)).append(" | ")
          .append(pct(r.cpu().machineUtilization())).append(" | ")
          .append(pct(r.cpu().stealSeconds() / r.cpu().machineCapacitySeconds())).append(" |\n");
    }
    b.append('\n');

    List<Row> ssh = d.rows().stream().filter(r -> r.path().equals("ssh")).toList();
    if (!ssh.isEmpty()) {
      b.append("**Login-node CPU of the agent** (the `slurm-agent.jar` processes that sshd runs for the sandbox user): ");
      List<String> parts = new ArrayList<>();
      for (Row r : ssh) {
        parts.add(fmt(r.cpu().perThousand(CpuUse.AGENT, r.requests()), 3) + " CPU seconds per 1,000 requests at "
            + r.clients() + (r.clients() == 1 ? " client" : " clients"));
      }
      b.append(String.join("; ", parts)).append(". With the login node's sshd added: ");
      parts.clear();
      for (Row r : ssh) {
        double both = r.cpu().perThousand(CpuUse.AGENT, r.requests()) + r.cpu().perThousand(CpuUse.SSHD, r.requests());
        parts.add(fmt(both, 3) + " at " + r.clients());
      }
      b.append(String.join("; ", parts)).append(". The gateway JVM: ");
      parts.clear();
      for (Row r : ssh) parts.add(fmt(r.cpu().perThousand(CpuUse.GATEWAY, r.requests()), 3) + " at " + r.clients());
      b.append(String.join("; ", parts)).append(".\n\n");
      Row first = ssh.get(0);
      b.append("At ").append(first.clients()).append(first.clients() == 1 ? " client" : " clients")
          .append(" on the SSH path the cores were ").append(pct(first.cpu().machineUtilization()))
          .append(" busy; the gateway JVM kept ").append(pct(first.cpu().coreShare(CpuUse.GATEWAY)))
          .append(" of one core busy, the agent ").append(pct(first.cpu().coreShare(CpuUse.AGENT)))
          .append(", sshd ").append(pct(first.cpu().coreShare(CpuUse.SSHD))).append(", mock-llm ")
          .append(pct(first.cpu().coreShare(CpuUse.MOCK))).append(".\n");
      Row last = ssh.get(ssh.size() - 1);
      double perRequestMs = last.cpu().machineBusySeconds() * 1000.0 / Math.max(1, last.requests());
      b.append("At ").append(last.clients()).append(" clients the cores were ")
          .append(pct(last.cpu().machineUtilization())).append(" busy and each request cost ")
          .append(fmt(perRequestMs, 3)).append(" ms of CPU summed over all processes; the largest shares: ")
          .append(largest(last)).append(" per request. At that cost ").append(d.machine().cores())
          .append(" fully busy cores would complete at most ").append(fmt(d.machine().cores() * 1000.0 / perRequestMs, 0))
          .append(" requests/s (arithmetic on the measured numbers, not a measurement).\n\n");
    }
    threadSection(b, d);
    idleSection(b, d);
  }

  /** Inside the JVMs: the thread groups that used the most CPU in each window. */
  private static void threadSection(StringBuilder b, Data d) {
    if (d.rows().stream().allMatch(r -> r.cpu().threads().isEmpty())) return;
    b.append("### Threads\n\n");
    b.append("The busiest thread groups of the JVMs (load generator, gateway, agent, mock-llm) in each window, from "
        + "`/proc/<pid>/task/<tid>/stat`; names as the kernel keeps them (15 characters), pool numbers dropped. "
        + "*% of a core* = CPU seconds / window. *Wake-ups per request*: how often the group's threads went to sleep "
        + "(`voluntary_ctxt_switches` in `/proc/<pid>/task/<tid>/status`) per completed request; each is a hand-off "
        + "that had to wake a thread, and with one connection most of a request's CPU beyond its work.\n\n");
    b.append("| path | clients | process | thread group | % of a core | CPU s per 1,000 requests | wake-ups per request |\n");
    b.append("|---|--:|---|---|--:|--:|--:|\n");
    for (Row r : d.rows()) {
      for (String component : List.of(CpuUse.LOAD, CpuUse.GATEWAY, CpuUse.AGENT, CpuUse.MOCK)) {
        Map<String, Double> groups = r.cpu().threads().get(component);
        if (groups == null) continue;
        Map<String, Long> wakeups = r.cpu().wakeups().getOrDefault(component, Map.of());
        groups.entrySet().stream().sorted((x, y) -> Double.compare(y.getValue(), x.getValue())).limit(3).forEach(e ->
            b.append("| ").append(r.path()).append(" | ").append(r.clients()).append(" | ").append(component)
                .append(" | `").append(e.getKey()).append("` | ").append(pct(e.getValue() / r.cpu().windowSeconds()))
                .append(" | ").append(fmt(e.getValue() * 1000.0 / Math.max(1, r.requests()), 3))
                .append(" | ").append(wakeups.containsKey(e.getKey())
                    ? fmt(wakeups.get(e.getKey()) / (double) Math.max(1, r.requests()), 2) : "–").append(" |\n"));
      }
    }
    b.append('\n');
  }

  /** What each path's processes use with no request in flight. */
  private static void idleSection(StringBuilder b, Data d) {
    if (d.idle().isEmpty()) return;
    b.append("### Idle\n\n");
    b.append("The same processes for ").append(seconds(d.settings().idle())).append(" with no request at all, right "
        + "after each path's load rows (connections open, JIT warm), in % of one core.\n\n");
    List<String> columns = new ArrayList<>();
    for (String c : CpuUse.COMPONENTS) {
      if (!c.equals(CpuUse.OTHER) && !c.equals(CpuUse.UNATTRIBUTED)
          && d.idle().stream().anyMatch(i -> i.cpu().seconds().containsKey(c))) {
        columns.add(c);
      }
    }
    b.append("| path |");
    columns.forEach(c -> b.append(' ').append(c).append(" |"));
    b.append(" cores busy |\n|---|");
    columns.forEach(c -> b.append("--:|"));
    b.append("--:|\n");
    for (Idle i : d.idle()) {
      b.append("| ").append(i.path()).append(" |");
      for (String c : columns) {
        double v = i.cpu().coreShare(c);
        b.append(' ').append(Double.isNaN(v) ? "" : pct(v)).append(" |");
      }
      b.append(' ').append(pct(i.cpu().machineUtilization())).append(" |\n");
    }
    b.append('\n');
  }

  /**
   * Says plainly when something else ran during a window: processes outside the path (other processes, unattributed)
   * above 10 % of the machine's core time.
   */
  static Optional<String> interference(List<Row> rows) {
    Row worst = null;
    double worstShare = 0;
    for (Row r : rows) {
      double share = (r.cpu().seconds().getOrDefault(CpuUse.OTHER, 0.0) + r.cpu().seconds().getOrDefault(CpuUse.UNATTRIBUTED, 0.0))
          / r.cpu().machineCapacitySeconds();
      if (share > worstShare) {
        worst = r;
        worstShare = share;
      }
    }
    if (worst == null || worstShare <= 0.10) return Optional.empty();
    return Optional.of("**The machine was not quiet.** CPU outside the measured path (*other processes* and "
        + "*unattributed* below) reached " + pct(worstShare) + " of all cores' time in the window of " + worst.path()
        + " at " + worst.clients() + (worst.clients() == 1 ? " client" : " clients")
        + "; those rows had less CPU than the machine has.\n\n");
  }

  /** The three components with the most CPU per request, e.g. "gateway 0.210 ms, sshd 0.120 ms, agent 0.100 ms". */
  static String largest(Row r) {
    return r.cpu().seconds().entrySet().stream()
        .sorted((a, b) -> Double.compare(b.getValue(), a.getValue()))
        .filter(e -> !e.getKey().equals(CpuUse.OTHER) && !e.getKey().equals(CpuUse.UNATTRIBUTED))
        .limit(3)
        .map(e -> e.getKey() + " " + fmt(e.getValue() * 1000.0 / Math.max(1, r.requests()), 3) + " ms")
        .reduce((a, b) -> a + ", " + b).orElse("none");
  }

  private static void methodSection(StringBuilder b, Data d) {
    Settings s = d.settings();
    b.append("## Method\n\n");
    b.append("**What is measured.** `POST /v1/chat/completions` with the body `").append(Api.CHAT_BODY)
        .append("`, not streamed. The model server is mock-llm with `").append(String.join(" ", s.mockArgs()))
        .append("`: with the request's `max_tokens`, a 16-token answer with no generation delay, so the latency is "
            + "transport and processing only. "
            + "Every path gets the same request bytes; before measuring, the bench checked that every path returns "
            + "the same answer (")
        .append(d.answersIdentical() ? "it did" : "**it did not**").append(": `")
        .append(d.answer().replace("`", "'")).append("`).\n\n");
    b.append("**Paths.**\n\n");
    b.append("| path | request travels |\n|---|---|\n");
    b.append("| direct | client → mock-llm (`java -Xmx1g -XX:+UseG1GC -jar mock-llm.jar`, as the job script "
        + "runs it with the bench's `MOCK_LLM_JAVA_OPTS`) |\n");
    b.append("| nginx | client → Debian's nginx (`/usr/sbin/nginx`, master + 1 worker, its own config in a temp folder: "
        + "HTTP/1.1 keep-alive to the upstream, `proxy_buffering off`, no access log) → the same mock-llm as direct; "
        + "the proxy floor: what forwarding costs at least |\n");
    b.append("| embedded | client → gateway → agent (child process of the gateway, protocol on its stdin/stdout) → "
        + "mock-llm started by the agent's local scheduler from `sbatch/mock-llm.sbatch`; what `bin/sluice demo` runs |\n");
    b.append("| limited | the embedded path, with an admin-made API key whose user, model and key each have limits in "
        + "every window (requests and tokens per minute, hour, day and month, and concurrency), all far above the load: "
        + "every request is checked and counted against 9 request windows, 12 token windows and 3 concurrency limits. "
        + "On embedded the configured key's user has no limits; both paths authenticate, admit through the user's actor, "
        + "meter the answer and write a usage record |\n");
    b.append("| ssh | client → gateway → SSH (one connection, 1 channel: one agent process) → OpenSSH sshd → agent as the key's forced "
        + "command → mock-llm running as a real Slurm job").append(d.sandbox().map(x -> " (sandbox `" + x + "`)").orElse(""))
        .append(" |\n\n");
    b.append("The gateway runs in its own JVM, started as `java -jar http-edge/target/sluice.jar serve --config FILE` "
        + "with the JVM options of `conf/jvm.options` (as `bin/sluice serve`: 1 GiB heap, G1; on JDK 17 to 19 also "
        + "`conf/jvm-jdk17.options`, G1's card refinement left to its pauses), so its CPU is read from /proc like every other process's. The bench "
        + "writes the config (kept with the logs under `bench/target/run/`): one service `mock-llm` with exactly one "
        + "replica (min = max = 1), `max-inflight-per-replica` = the slow streams + 64 and `max-queue = 256`, so no "
        + "request waits for a lease; the job listing every 300 ms on the local paths (as in `conf/embedded.conf`, the "
        + "demo) and every second over SSH (Slurm), a starting job probed every 200 ms. From just before the gateway process starts, the bench "
        + "sends the short chat request until one is answered 200 (the *start* target); the measuring starts once "
        + "`GET /v1/models` also reports the model `ready`. The gateway is stopped after each path and cancels its job; the bench then cancels any "
        + "job of its own deployment (`").append(GatewayStack.DEPLOYMENT).append("`) still listed by Slurm.\n\n");
    b.append("**Load.** A closed loop in the bench's JVM: each of N client threads sends its next request as soon as "
        + "the previous answer has been read in full, through one JDK `HttpClient` (HTTP/1.1, keep-alive, so one "
        + "connection per client). Concurrencies: ").append(s.concurrency()).append(". Each row: ")
        .append(seconds(s.warmup())).append(" of warm-up (not recorded), then a ").append(seconds(s.window()))
        .append(" window. A request counts when its answer completes inside the window; requests/s = those requests "
            + "/ window. Latency runs from just before sending to the last byte of the body and is recorded in an "
            + "HdrHistogram (nanoseconds, 3 significant digits). Non-200 answers and failures are counted as errors "
            + "and left out of the latencies. A closed loop does not correct for coordinated omission: the "
            + "percentiles are service times under N-way concurrency. Added latency is a difference of percentiles, "
            + "not a percentile of differences.\n\n");
    b.append("**CPU.** `/proc/<pid>/stat` of every process, read just before and just after each window, and the "
        + "first line of `/proc/stat` for the machine. Each process's CPU time (utime + stime, plus cutime + cstime: "
        + "children that ended in the window, such as the agent's `squeue` calls) is charged to a component: "
        + "*load generator* = the bench JVM; *nginx* = nginx's master and worker; *gateway* = the gateway JVM; *agent* = the agent processes (embedded: "
        + "the gateway's child; ssh: the sandbox user's `slurm-agent.jar` processes started for this gateway); "
        + "*sshd* = the per-connection sshd processes above those agents (not the listener); *job runner* = the "
        + "local scheduler's runner; *mock-llm* = the model server; *slurm + munge* = slurmctld, slurmd, slurmstepd "
        + "and munged; *other processes* = every other process on the machine (their own time only), i.e. "
        + "interference; *unattributed* = busy time of the machine not charged to any process that lived through "
        + "the window: short-lived processes, and kernel interrupt work done while a core was otherwise idle (this "
        + "kernel accounts CPU by ticks, so interrupt work, such as loopback TCP, that lands on a running process is "
        + "charged to that process). *whole machine* = all busy time (user, nice, system, irq, softirq).\n\n");
  }

  /** This row's p50 (or p99) minus the direct path's at the same concurrency; "–" for the direct path itself. */
  static String added(List<Row> rows, Row r, boolean p50) {
    if (r.path().equals("direct")) return "–";
    return find(rows, "direct", r.clients())
        .map(dir -> ms(p50 ? r.latency().p50() - dir.latency().p50() : r.latency().p99() - dir.latency().p99(), true))
        .orElse("–");
  }

  static String ms(double v, boolean signed) {
    if (Double.isNaN(v)) return "–";
    return String.format(Locale.ROOT, signed ? "%+.3f" : "%.3f", v);
  }

  static String pct(double share) {
    return Double.isNaN(share) ? "–" : String.format(Locale.ROOT, "%.0f %%", 100 * share);
  }

  static String fmt(double v, int decimals) {
    if (Double.isNaN(v)) return "–";
    return String.format(Locale.ROOT, "%,." + decimals + "f", v);
  }

  private static String seconds(Duration d) {
    return fmt(d.toMillis() / 1000.0, d.toMillis() % 1000 == 0 ? 0 : 1) + " s";
  }
}
