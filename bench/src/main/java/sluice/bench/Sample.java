package sluice.bench;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * One probe at the edge of a window: every process ({@link ProcSnapshot}), plus the CPU ticks of the threads of the
 * processes worth looking inside (the JVMs of the gateway and the agent), grouped by thread name.
 */
record Sample(ProcSnapshot procs, Map<Long, Map<String, Long>> threads) {
  Sample {
    threads = Map.copyOf(threads);
  }

  static Sample take(Set<Long> lookInside) {
    Map<Long, Map<String, Long>> threads = new HashMap<>();
    for (long pid : lookInside) threads.put(pid, threadsOf(pid));
    return new Sample(ProcSnapshot.take(), threads);
  }

  /** utime + stime of each thread of {@code pid}, summed per {@link #threadGroup} name; empty if it is gone. */
  static Map<String, Long> threadsOf(long pid) {
    Map<String, Long> out = new HashMap<>();
    try (DirectoryStream<Path> tasks = Files.newDirectoryStream(Path.of("/proc", Long.toString(pid), "task"))) {
      for (Path task : tasks) {
        try {
          String stat = Files.readString(task.resolve("stat"));
          String comm = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
          ProcSnapshot.Proc p = ProcSnapshot.parseStat(pid, stat, 0, "");
          out.merge(threadGroup(comm), p.cpuTicks(), Long::sum);
        } catch (IOException | RuntimeException gone) {
          // the thread ended while we looked
        }
      }
    } catch (IOException gone) {
      // the process ended
    }
    return out;
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
