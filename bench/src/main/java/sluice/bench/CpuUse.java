package sluice.bench;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * CPU seconds used during a window: per component of the path under test, by every other process, unattributed, and
 * by the whole machine; and, inside the JVMs that were sampled, per thread group. Read from two {@link Sample}s.
 *
 * @param threads component → thread group → seconds, for the components whose threads were sampled
 * @param wakeups component → thread group → times its threads went to sleep and were woken again (see {@link Sample})
 */
record CpuUse(Map<String, Double> seconds, Map<String, Map<String, Double>> threads,
              Map<String, Map<String, Long>> wakeups, double machineBusySeconds, double machineCapacitySeconds,
              double stealSeconds, double windowSeconds) {
  static final String LOAD = "load generator";
  static final String NGINX = "nginx";
  static final String GATEWAY = "gateway";
  static final String SSHD = "sshd";
  static final String AGENT = "agent";
  static final String RUNNER = "job runner";
  static final String MOCK = "mock-llm";
  static final String SLURM = "slurm + munge";
  static final String OTHER = "other processes";
  /**
   * Busy time charged to no process alive at both ends of the window: processes that started or ended inside it, and
   * interrupt work that hit an idle CPU (with tick-based accounting, interrupt work that hits a process is charged to
   * that process).
   */
  static final String UNATTRIBUTED = "unattributed";
  /** Display order: from the client to the model server, then what is not part of the path. */
  static final List<String> COMPONENTS = List.of(LOAD, NGINX, GATEWAY, SSHD, AGENT, RUNNER, MOCK, SLURM, OTHER, UNATTRIBUTED);

  CpuUse {
    seconds = Collections.unmodifiableMap(new LinkedHashMap<>(seconds));
    threads = Map.copyOf(threads);
    wakeups = Map.copyOf(wakeups);
  }

  /** Without wake-up counts. */
  CpuUse(Map<String, Double> seconds, Map<String, Map<String, Double>> threads, double machineBusySeconds,
         double machineCapacitySeconds, double stealSeconds, double windowSeconds) {
    this(seconds, threads, Map.of(), machineBusySeconds, machineCapacitySeconds, stealSeconds, windowSeconds);
  }

  /**
   * @param owners which component each process belongs to; every other process counts as {@link #OTHER}. Components
   *               are charged their processes' own time plus that of their children that ended in the window (the
   *               agent's squeue, sbatch); other processes only their own, so a shell whose long build just ended
   *               does not dump that build into the window.
   */
  static CpuUse between(Sample before, Sample after, Map<Long, String> owners, double hz, double windowSeconds) {
    Map<String, Double> ticks = new LinkedHashMap<>();
    for (ProcSnapshot.Proc a : after.procs().procs().values()) {
      ProcSnapshot.Proc b = before.procs().procs().get(a.pid());
      if (b == null) continue;            // started inside the window: left unattributed
      String owner = owners.get(a.pid());
      long used = owner == null ? a.cpuTicks() - b.cpuTicks()
          : a.cpuTicks() + a.childTicks() - b.cpuTicks() - b.childTicks();
      ticks.merge(owner == null ? OTHER : owner, (double) Math.max(0, used), Double::sum);
    }
    double busyTicks = after.procs().machineBusyTicks() - before.procs().machineBusyTicks();
    ticks.put(UNATTRIBUTED, Math.max(0, busyTicks - ticks.values().stream().mapToDouble(Double::doubleValue).sum()));
    Map<String, Double> seconds = new LinkedHashMap<>();
    for (String c : COMPONENTS) {
      if (ticks.containsKey(c)) seconds.put(c, ticks.get(c) / hz);
    }
    Map<String, Map<String, Double>> threads = new LinkedHashMap<>();
    after.threads().forEach((pid, groups) -> {
      Map<String, Long> was = before.threads().getOrDefault(pid, Map.of());
      String owner = owners.getOrDefault(pid, OTHER);
      Map<String, Double> mine = threads.computeIfAbsent(owner, k -> new LinkedHashMap<>());
      groups.forEach((g, t) -> mine.merge(g, Math.max(0, t - was.getOrDefault(g, 0L)) / hz, Double::sum));
    });
    Map<String, Map<String, Long>> wakeups = new LinkedHashMap<>();
    after.wakeups().forEach((pid, groups) -> {
      Map<String, Long> was = before.wakeups().getOrDefault(pid, Map.of());
      Map<String, Long> mine = wakeups.computeIfAbsent(owners.getOrDefault(pid, OTHER), k -> new LinkedHashMap<>());
      groups.forEach((g, n) -> mine.merge(g, Math.max(0, n - was.getOrDefault(g, 0L)), Long::sum));
    });
    double all = (after.procs().machineAllTicks() - before.procs().machineAllTicks()) / hz;
    double steal = (after.procs().machineStealTicks() - before.procs().machineStealTicks()) / hz;
    return new CpuUse(seconds, threads, wakeups, busyTicks / hz, all, steal, windowSeconds);
  }

  /** CPU seconds of {@code component} per 1,000 requests, or NaN when the component was not part of this path. */
  double perThousand(String component, long requests) {
    Double s = seconds.get(component);
    return s == null || requests == 0 ? Double.NaN : s * 1000.0 / requests;
  }

  /** Share of one core that {@code component} kept busy, 0..cores; NaN when it was not part of this path. */
  double coreShare(String component) {
    Double s = seconds.get(component);
    return s == null ? Double.NaN : s / windowSeconds;
  }

  /** Share of all cores that were busy, 0..1. */
  double machineUtilization() {
    return machineCapacitySeconds <= 0 ? Double.NaN : machineBusySeconds / machineCapacitySeconds;
  }
}
