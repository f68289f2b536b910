package sluice.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What Linux's /proc says at one instant about every process (CPU time, parent, owner, command line) and about the
 * whole machine (busy and total CPU ticks). Two snapshots around a measuring window charge its CPU time to components.
 */
record ProcSnapshot(Map<Long, Proc> procs, long machineBusyTicks, long machineAllTicks, long machineStealTicks) {

  /**
   * One process, times in clock ticks: {@code cpuTicks} = utime + stime over its threads; {@code childTicks} = cutime +
   * cstime, the time of its children that ended and were waited for (e.g. the agent's squeue calls).
   */
  record Proc(long pid, long ppid, int uid, long cpuTicks, long childTicks, String cmdline) {}

  ProcSnapshot {
    procs = Map.copyOf(procs);
  }

  static ProcSnapshot take() {
    Map<Long, Proc> procs = new HashMap<>();
    try (DirectoryStream<Path> dirs = Files.newDirectoryStream(Path.of("/proc"), p -> p.getFileName().toString().matches("\\d+"))) {
      for (Path dir : dirs) {
        try {
          long pid = Long.parseLong(dir.getFileName().toString());
          String stat = Files.readString(dir.resolve("stat"), StandardCharsets.UTF_8);
          int uid = (Integer) Files.getAttribute(dir, "unix:uid");
          String cmdline = new String(Files.readAllBytes(dir.resolve("cmdline")), StandardCharsets.UTF_8).replace('\0', ' ').trim();
          procs.put(pid, parseStat(pid, stat, uid, cmdline));
        } catch (IOException | RuntimeException gone) {
          // the process ended while we looked: it is not part of this snapshot
        }
      }
      long[] cpu = parseCpuLine(Files.readAllLines(Path.of("/proc/stat")).get(0));
      return new ProcSnapshot(procs, cpu[0], cpu[1], cpu[2]);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read /proc (the bench needs Linux): " + e, e);
    }
  }

  /**
   * Parses {@code /proc/<pid>/stat}. The command name (field 2) is in parentheses and may itself contain spaces and
   * parentheses, so the fields are counted from the last ')'.
   */
  static Proc parseStat(long pid, String stat, int uid, String cmdline) {
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).trim().split(" ");
    // f[0] is field 3 (state): field n is f[n - 3]. ppid = 4, utime = 14, stime = 15, cutime = 16, cstime = 17.
    long ppid = Long.parseLong(f[1]);
    long ticks = Long.parseLong(f[11]) + Long.parseLong(f[12]);
    long children = Long.parseLong(f[13]) + Long.parseLong(f[14]);
    return new Proc(pid, ppid, uid, ticks, children, cmdline);
  }

  /**
   * The first line of /proc/stat: returns {busy, all, steal} ticks over every CPU. Busy is user, nice, system, irq and
   * softirq (guest time is already inside user); steal is time a virtual CPU wanted to run but the hypervisor ran
   * something else, so it counts in all but not in busy.
   */
  static long[] parseCpuLine(String line) {
    String[] f = line.trim().split("\\s+");
    if (!f[0].equals("cpu")) throw new IllegalArgumentException("not the cpu line of /proc/stat: " + line);
    long user = Long.parseLong(f[1]);
    long nice = Long.parseLong(f[2]);
    long system = Long.parseLong(f[3]);
    long idle = Long.parseLong(f[4]);
    long iowait = f.length > 5 ? Long.parseLong(f[5]) : 0;
    long irq = f.length > 6 ? Long.parseLong(f[6]) : 0;
    long softirq = f.length > 7 ? Long.parseLong(f[7]) : 0;
    long steal = f.length > 8 ? Long.parseLong(f[8]) : 0;
    long busy = user + nice + system + irq + softirq;
    return new long[] {busy, busy + idle + iowait + steal, steal};
  }

  /** Every process below {@code pid} (children, their children, ...). */
  Set<Long> descendantsOf(long pid) {
    Map<Long, List<Long>> children = new HashMap<>();
    procs.values().forEach(p -> children.computeIfAbsent(p.ppid(), k -> new ArrayList<>()).add(p.pid()));
    Set<Long> out = new HashSet<>();
    List<Long> todo = new ArrayList<>(children.getOrDefault(pid, List.of()));
    while (!todo.isEmpty()) {
      long next = todo.remove(todo.size() - 1);
      if (out.add(next)) todo.addAll(children.getOrDefault(next, List.of()));
    }
    return out;
  }

  /** The parent, grandparent, ... of {@code pid}, nearest first, up to (not including) init. */
  List<Proc> ancestorsOf(long pid) {
    List<Proc> out = new ArrayList<>();
    Proc p = procs.get(pid);
    while (p != null && p.ppid() > 1 && out.size() < 64) {
      p = procs.get(p.ppid());
      if (p != null) out.add(p);
    }
    return out;
  }
}
