package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

class ProcSnapshotTest {
  @Test void statFieldsAreCountedFromTheLastParenthesisSoOddCommandNamesParse() {
    String stat = "4242 (java (x) y) S 17 4242 17 0 -1 4194560 9000 0 0 0 1234 567 0 0 20 0 40 0 100 0 0";
    ProcSnapshot.Proc p = ProcSnapshot.parseStat(4242, stat, 1000, "java -jar sluice.jar");
    assertEquals(17, p.ppid());
    assertEquals(1234 + 567, p.cpuTicks());
    assertEquals(0, p.childTicks());
    assertEquals(1000, p.uid());
  }

  @Test void machineBusyTimeLeavesOutIdleIowaitAndSteal() {
    long[] cpu = ProcSnapshot.parseCpuLine("cpu  100 5 50 1000 20 3 2 7 0 0");
    assertArrayEquals(new long[] {100 + 5 + 50 + 3 + 2, 100 + 5 + 50 + 3 + 2 + 1000 + 20 + 7, 7}, cpu);
  }

  @Test void threadNamesLoseTheirPoolNumbers() {
    assertEquals("GC Thread", Sample.threadGroup("GC Thread#1"));
    assertEquals("HttpClient-2-Wo", Sample.threadGroup("HttpClient-2-Wo"));
    assertEquals("sluice-pekko.ac", Sample.threadGroup("sluice-pekko.ac"));
    assertEquals("bench-client", Sample.threadGroup("bench-client-12"));
  }

  @Test void descendantsAndAncestorsFollowParentLinks() {
    ProcSnapshot s = snapshot(Map.of(10L, 1L, 11L, 10L, 12L, 11L, 13L, 10L, 20L, 1L), 0, 0);
    assertEquals(Set.of(11L, 12L, 13L), s.descendantsOf(10));
    assertEquals(List.of(11L, 10L), s.ancestorsOf(12).stream().map(ProcSnapshot.Proc::pid).toList());
  }

  @Test void cpuIsChargedToOwnersWithTheirEndedChildrenAndTheRestIsOtherOrUnattributed() {
    ProcSnapshot before = new ProcSnapshot(Map.of(
        1L, new ProcSnapshot.Proc(1, 0, 0, 100, 0, "gw"),
        2L, new ProcSnapshot.Proc(2, 1, 0, 50, 10, "agent"),
        3L, new ProcSnapshot.Proc(3, 0, 0, 0, 0, "make")), 1000, 5000, 0);
    ProcSnapshot after = new ProcSnapshot(Map.of(
        1L, new ProcSnapshot.Proc(1, 0, 0, 400, 0, "gw"),
        2L, new ProcSnapshot.Proc(2, 1, 0, 130, 30, "agent"),        // 80 own + 20 of an ended squeue
        3L, new ProcSnapshot.Proc(3, 0, 0, 50, 5000, "make")), 1600, 5800, 40);   // a finished child is not ours
    Sample b = new Sample(before, Map.of(1L, Map.of("pekko", 60L, "GC Thread", 40L)), Map.of(1L, Map.of("pekko", 1000L)));
    Sample a = new Sample(after, Map.of(1L, Map.of("pekko", 310L, "GC Thread", 90L)), Map.of(1L, Map.of("pekko", 5200L)));
    CpuUse use = CpuUse.between(b, a, Map.of(1L, CpuUse.GATEWAY, 2L, CpuUse.AGENT), 100, 4);
    assertEquals(3.0, use.seconds().get(CpuUse.GATEWAY), 1e-9);
    assertEquals(1.0, use.seconds().get(CpuUse.AGENT), 1e-9);
    assertEquals(0.5, use.seconds().get(CpuUse.OTHER), 1e-9);
    assertEquals(1.5, use.seconds().get(CpuUse.UNATTRIBUTED), 1e-9);
    assertEquals(6.0, use.machineBusySeconds(), 1e-9);
    assertEquals(0.75, use.machineUtilization(), 1e-9);
    assertEquals(0.4, use.stealSeconds(), 1e-9);
    assertEquals(0.5, use.perThousand(CpuUse.AGENT, 2000), 1e-9);
    assertEquals(0.75, use.coreShare(CpuUse.GATEWAY), 1e-9);
    assertEquals(Double.NaN, use.perThousand(CpuUse.SSHD, 2000));
    assertEquals(2.5, use.threads().get(CpuUse.GATEWAY).get("pekko"), 1e-9);
    assertEquals(4200L, use.wakeups().get(CpuUse.GATEWAY).get("pekko"));
  }

  @Test void aThreadsWakeUpsAreItsVoluntaryContextSwitchesAndGrowWhenItSleeps() throws Exception {
    String status = "Name:\tjava\nState:\tS (sleeping)\nvoluntary_ctxt_switches:\t1234\nnonvoluntary_ctxt_switches:\t56\n";
    assertEquals(1234, Sample.voluntarySwitches(status));
    // A thread of this JVM that sleeps 20 times between two samples has at least 20 more wake-ups in its group.
    CountDownLatch running = new CountDownLatch(1);
    CountDownLatch sampled = new CountDownLatch(1);
    CountDownLatch slept = new CountDownLatch(1);
    Thread sleeper = new Thread(() -> {
      running.countDown();            // the JVM gives the kernel thread its name before run(): /proc shows it from here
      try {
        sampled.await();
        for (int i = 0; i < 20; i++) Thread.sleep(1);
        slept.countDown();
        Thread.sleep(60_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }, "wake-probe-1");
    sleeper.setDaemon(true);
    sleeper.start();
    assertTrue(running.await(10, TimeUnit.SECONDS));
    long pid = ProcessHandle.current().pid();
    String group = "wake-probe";
    Map<String, Long> ticks = new java.util.HashMap<>();
    Map<String, Long> before = new java.util.HashMap<>();
    Sample.threadsOf(pid, ticks, before);
    sampled.countDown();
    assertTrue(slept.await(10, TimeUnit.SECONDS));
    Map<String, Long> after = new java.util.HashMap<>();
    Sample.threadsOf(pid, ticks, after);
    sleeper.interrupt();
    assertTrue(after.get(group) - before.get(group) >= 20, before.get(group) + " -> " + after.get(group));
  }

  static ProcSnapshot snapshot(Map<Long, Long> parents, long busy, long all) {
    Map<Long, ProcSnapshot.Proc> procs = new java.util.HashMap<>();
    parents.forEach((pid, ppid) -> procs.put(pid, new ProcSnapshot.Proc(pid, ppid, 0, 0, 0, "p" + pid)));
    return new ProcSnapshot(procs, busy, all, 0);
  }
}
