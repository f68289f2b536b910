package sluice.agent.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.testing.Await;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

@Timeout(60)
class LocalSchedulerTest {
  @TempDir Path dir;
  private LocalScheduler scheduler;

  @BeforeEach void setUp() {
    scheduler = new LocalScheduler(dir.resolve("state"),
        new AgentConfig.Local(Duration.ofMillis(500), Duration.ofMinutes(5), "bash"),
        LocalScheduler.defaultRunnerCommand(), Clock.systemUTC());
  }

  /**
   * Cancels what runs and waits for every job's runner to exit: a runner writes its job's last state into the temp dir
   * after the cancel, and JUnit failed to delete the dir when it did so during the deletion.
   */
  @AfterEach void cancelEverything() throws Exception {
    for (JobInfo j : scheduler.jobs()) if (!j.state().isFinal()) scheduler.cancel(j.id());
    for (JobInfo j : scheduler.jobs()) {
      await(j.id(), x -> x.state().isFinal());
      Long runner = LocalJob.readStatus(dir.resolve("state/jobs/" + j.id())).runnerPid();
      if (runner != null) {
        var exited = ProcessHandle.of(runner).map(ProcessHandle::onExit).orElse(null);
        if (exited != null) exited.get(30, java.util.concurrent.TimeUnit.SECONDS);
      }
    }
  }

  private ServiceSpec service(String name, String script, String timeLimit) throws IOException {
    Path f = dir.resolve(name + ".sbatch");
    Files.writeString(f, "#!/bin/bash\n" + script + "\n");
    return new ServiceSpec(name, f, sluice.agent.config.SlurmTime.parse(timeLimit), List.of("/"), java.util.Set.of("GET"),
        "/health", Map.of("FOO", "bar"));
  }

  private JobInfo await(String id, Predicate<JobInfo> condition) throws Exception {
    return Await.until(Duration.ofSeconds(30), "job " + id + " to get there", () -> scheduler.job(id).orElse(null),
        j -> j != null && condition.test(j));
  }

  @Test void jobRunsWithSlurmEnvironmentAndCompletes() throws Exception {
    ServiceSpec s = service("env", "echo \"$SLURM_JOB_ID $SLUICE_PORT $SLUICE_SERVICE $SLUICE_JOB_TAG $FOO\" > env.txt; sleep 1", "5");
    JobInfo submitted = scheduler.submit(s, "dep.env.t1");
    assertEquals("1", submitted.id());
    assertEquals("dep.env.t1", submitted.tag());
    JobInfo running = await(submitted.id(), j -> j.state() == JobState.RUNNING);
    assertEquals("localhost", running.node());
    assertEquals(running.startTime().plusSeconds(300), running.endTime(), "a running job reports its expected end");
    JobInfo done = await(submitted.id(), j -> j.state() == JobState.COMPLETED);
    assertEquals(0, done.exitCode());
    String[] env = Files.readString(dir.resolve("state/jobs/1/env.txt")).trim().split(" ");
    assertEquals("1", env[0]);
    assertTrue(Integer.parseInt(env[1]) > 0, "SLUICE_PORT is a port");
    assertEquals(List.of("env", "dep.env.t1", "bar"), List.of(env[2], env[3], env[4]));
  }

  @Test void failingScriptEndsFailedWithItsExitCode() throws Exception {
    JobInfo j = scheduler.submit(service("fail", "echo broken >&2; exit 3", "5"), "t-fail");
    JobInfo done = await(j.id(), x -> x.state().isFinal());
    assertEquals(JobState.FAILED, done.state());
    assertEquals(3, done.exitCode());
    assertTrue(Files.readString(dir.resolve("state/jobs/" + j.id() + "/slurm-" + j.id() + ".out")).contains("broken"));
  }

  @Test void timeLimitSendsTermThenKill() throws Exception {
    // The script ignores SIGTERM, so only the SIGKILL after the kill wait can end it.
    JobInfo j = scheduler.submit(service("stubborn", "trap '' TERM; sleep 60", "0:01"), "t-stubborn");
    JobInfo done = await(j.id(), x -> x.state().isFinal());
    assertEquals(JobState.TIMEOUT, done.state());
    long ran = Duration.between(done.startTime(), done.endTime()).toMillis();
    assertTrue(ran >= 1000 && ran < 10_000, "ended after the 1 s limit plus kill wait, ran " + ran + " ms");
  }

  @Test void cancelledJobEndsCancelledAndForeignIdsAreUnknown() throws Exception {
    JobInfo j = scheduler.submit(service("sleepy", "sleep 60", "5"), "t-sleepy");
    await(j.id(), x -> x.state() == JobState.RUNNING);
    assertTrue(scheduler.cancel(j.id()).orElseThrow().cancelled());
    assertEquals(JobState.CANCELLED, await(j.id(), x -> x.state().isFinal()).state());
    assertEquals(Optional.empty(), scheduler.cancel("999"));
    assertEquals(Optional.empty(), scheduler.job("../1"));
    assertTrue(!scheduler.cancel(j.id()).orElseThrow().cancelled(), "cancelling a finished job changes nothing");
  }

  @Test void resubmittingATagReturnsTheSameJob() throws Exception {
    ServiceSpec s = service("idem", "sleep 60", "5");
    JobInfo first = scheduler.submit(s, "t-same");
    JobInfo again = scheduler.submit(s, "t-same");
    assertEquals(first.id(), again.id());
    JobInfo other = scheduler.submit(s, "t-other");
    assertNotEquals(first.id(), other.id());
    assertEquals(2, scheduler.jobs().size());
  }

  @Test void concurrentSubmissionsFromOneAgentAllSucceed() throws Exception {
    ServiceSpec s = service("many", "sleep 60", "5");
    var pool = java.util.concurrent.Executors.newFixedThreadPool(4);
    try {
      List<java.util.concurrent.Future<JobInfo>> submits = new java.util.ArrayList<>();
      for (int i = 0; i < 8; i++) {
        String tag = "t-par-" + i;
        submits.add(pool.submit(() -> scheduler.submit(s, tag)));   // one JVM: the file lock alone would throw
      }
      java.util.Set<String> ids = new java.util.HashSet<>();
      for (var f : submits) ids.add(f.get(30, java.util.concurrent.TimeUnit.SECONDS).id());
      assertEquals(8, ids.size(), "eight jobs with eight ids: " + ids);
    } finally {
      pool.shutdownNow();
      for (JobInfo j : scheduler.jobs()) scheduler.cancel(j.id());
    }
  }

  @Test void aJobWhoseRunnerDiedIsReportedAsNodeFailure() throws Exception {
    JobInfo j = scheduler.submit(service("orphan", "sleep 60", "5"), "t-orphan");
    await(j.id(), x -> x.state() == JobState.RUNNING);
    long runner = LocalJob.readStatus(dir.resolve("state/jobs/" + j.id())).runnerPid();
    ProcessHandle.of(runner).orElseThrow().destroyForcibly();
    assertEquals(JobState.NODE_FAIL, await(j.id(), x -> x.state().isFinal()).state());
    // clean up the script the dead runner left behind
    ProcessHandle.allProcesses().filter(p -> p.info().arguments().map(a -> String.join(" ", a).contains("orphan.sbatch")).orElse(false))
        .forEach(ProcessHandle::destroyForcibly);
  }
}
