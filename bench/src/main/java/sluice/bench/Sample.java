package sluice.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One probe at the edge of a window: every process ({@link ProcSnapshot}), plus, for the processes worth looking
 * inside (the JVMs of the path), the CPU ticks and the wake-ups of their threads, grouped by thread name.
 *
 * @param threads pid → thread group → utime + stime ticks
 * @param wakeups pid → thread group → voluntary context switches: each is a thread going to sleep, to be woken when
 *                work comes for it, so per request they count the hand-offs between threads
 */
record Sample(ProcSnapshot procs, Map<Long, Map<String, Long>> threads, Map<Long, Map<String, Long>> wakeups) {
  Sample {
    threads = Map.copyOf(threads);
    wakeups = Map.copyOf(wakeups);
  }

  static Sample take(Set<Long> lookInside) {
    Map<Long, Map<String, Long>> threads = new HashMap<>();
    Map<Long, Map<String, Long>> wakeups = new HashMap<>();
    for (long pid : lookInside) {
      Map<String, Long> ticks = new HashMap<>();
      Map<String, Long> sleeps = new HashMap<>();
      threadsOf(pid, ticks, sleeps);
      threads.put(pid, ticks);
      wakeups.put(pid, sleeps);
    }
    return new Sample(ProcSnapshot.take(), threads, wakeups);
  }

  /**
   * utime + stime and voluntary context switches of each thread of {@code pid}, summed per {@link #threadGroup} name
   * into {@code ticks} and {@code sleeps}; nothing if it is gone.
   */
  static void threadsOf(long pid, Map<String, Long> ticks, Map<String, Long> sleeps) {
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          ProcSnapshot.Proc p = ProcSnapshot.parseStat(pid, stat, 0, "");
          long voluntary = voluntarySwitches(Files.readString(task.resolve("status")));
          ticks.merge(threadGroup(comm), p.cpuTicks(), Long::sum);
          sleeps.merge(threadGroup(comm), voluntary, Long::sum);
        } catch (IOException | RuntimeException gone) {
          // the thread ended while we looked
        }
      }
    } catch (IOException gone) {
      // the process ended
    }
  }

  /** The {@code voluntary_ctxt_switches} line of {@code /proc/<pid>/task/<tid>/status}. */
  static long voluntarySwitches(String status) {
    for (String line : status.split("\n")) {
      if (line.startsWith("voluntary_ctxt_switches:")) return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
    }
    throw new IllegalArgumentException("no voluntary_ctxt_switches line in a thread's status");
  }

  /**
   * Pools number their threads; the kernel keeps 15 characters of a name. "GC Thread#1" and "GC Thread#0" → "GC Thread",
   * "sluice-pekko.actor.default-dispatcher-7" (kept as "sluice-pekko.ac") stays as it is.
   */
  static String threadGroup(String comm) {
    String g = comm.replaceAll("[-#]?\\d+$", "").trim();
    return g.isEmpty() ? comm : g;
  }
}
