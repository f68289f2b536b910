package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.openai.client.OpenAIClient;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;

/**
 * The gateway killed with SIGKILL ({@code kill -9}: no shutdown hook, nothing flushed) and started again on the same
 * journal, with the local scheduler, whose jobs are detached processes that outlive the gateway as Slurm jobs do. The
 * restarted gateway must serve from the same job and submit nothing. The local scheduler keeps one folder per job it
 * ever started (ids from a counter that never repeats), which is the count of submissions the tests check.
 * Recovery times are printed ({@code RECOVERY local: ...}), never asserted: timings belong in benchmarks.
 */
@Timeout(360)
class CrashRestartIT {
  private static final Duration READY_WAIT = Duration.ofSeconds(150);
  private static final String AGENT = "sluice.agent.AgentMain";

  @Test void aGatewayKilledMidTrafficRestartsOnItsJournalAndServesFromTheSameJob() throws Exception {
    Path dir = Files.createTempDirectory("sluice-crash");
    EmbeddedStack.writeAgentConfig(dir);
    int port = EmbeddedStack.freePort();
    Path conf = CrashDrill.writeConfig(dir, config(dir, port, """
        mock-llm { cluster = local, max-inflight-per-replica = 8 }
        slow { cluster = local, min-replicas = 0 }
        cold { cluster = local, min-replicas = 0 }"""));
    Path jobsDir = dir.resolve("agent/jobs");
    GatewayProcess first = new GatewayProcess(conf, dir.resolve("gateway-1.log"), port);
    GatewayProcess second = new GatewayProcess(conf, dir.resolve("gateway-2.log"), port);
    List<ProcessHandle> spawned = new ArrayList<>();
    try {
      Duration firstReady = first.start("mock-llm", READY_WAIT);
      OpenAIClient client = CrashDrill.openai(first.baseUrl());
      for (int i = 0; i < 3; i++) CrashDrill.complete(client, "mock-llm", "before the crash " + i, 5, i == 1);
      Set<String> jobs = CrashDrill.routableJobs(first.baseUrl(), "mock-llm");
      assertEquals(1, jobs.size(), "min-replicas 1: " + jobs);
      assertEquals(jobs, LocalJobs.ids(jobsDir), "the agent started exactly the job the gateway routes to");
      long nextIdBefore = LocalJobs.nextId(jobsDir);
      List<ProcessHandle> agents = first.descendants(AGENT);
      assertEquals(1, agents.size(), "one local agent: " + agents);
      spawned.addAll(first.handle().descendants().toList());

      long killedAt;
      try (CrashDrill.Traffic traffic = new CrashDrill.Traffic(client, "mock-llm", 4)) {
        Await.until(Duration.ofSeconds(60), "20 requests of traffic to succeed", traffic::ok, ok -> ok >= 20);
        traffic.stopSending();                             // the requests in flight now are the ones the kill breaks
        killedAt = System.nanoTime();
        first.kill9();
        second.launch();                                   // as a supervisor (systemd, Kubernetes) would, at once
        traffic.close();
        System.out.printf("CRASH local: SIGKILL after %d requests succeeded; %d in flight broke: %s%n",
            traffic.ok(), traffic.failed(), traffic.errors());
      }
      CompletableFuture<CrashDrill.FirstSuccess> back = CompletableFuture.supplyAsync(() -> {
        try {
          return CrashDrill.firstSuccess(second.baseUrl(), "mock-llm", READY_WAIT);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      });

      String job = jobs.iterator().next();
      assertEquals("RUNNING", LocalJobs.state(jobsDir, job), "the job outlived the gateway");
      // The agent's stdin closed with its parent: it exits by itself. Whether it does or not, nothing below counts on it.
      long agentGone = awaitGone(agents, Duration.ofSeconds(30));
      System.out.println("CRASH local: the killed gateway's agent " + (agentGone < 0 ? "was STILL RUNNING 30 s after the kill"
          : "exited " + CrashDrill.seconds(agentGone - killedAt) + " after the kill"));

      CrashDrill.FirstSuccess recovered = back.get();
      System.out.printf("RECOVERY local: kill->first success %s, start->first success %s (first start->ready %s; "
              + "%d connections refused while nothing listened, %d non-200 answers)%n",
          CrashDrill.seconds(recovered.atNanos() - killedAt), CrashDrill.seconds(recovered.atNanos() - second.launchedAtNanos()),
          CrashDrill.seconds(firstReady.toNanos()), recovered.refused(), recovered.failed().size());
      assertEquals(List.of(), recovered.failed(), "every request that reached the restarted gateway succeeded");

      second.awaitReady("mock-llm", READY_WAIT);
      spawned.addAll(second.handle().descendants().toList());
      assertEquals(jobs, CrashDrill.routableJobs(second.baseUrl(), "mock-llm"), "the same job serves after the restart");
      assertEquals(List.of(), CrashDrill.burst(CrashDrill.openai(second.baseUrl()), "mock-llm", 20),
          "requests after the restart succeed");
      Thread.sleep(2000);                                  // a fixed wait: a late resubmission would show within several polls
      assertEquals(jobs, CrashDrill.trackedJobs(second.baseUrl(), "mock-llm"), "the gateway tracks no other job");
      assertEquals(jobs, LocalJobs.ids(jobsDir), "zero new submissions");
      assertEquals(nextIdBefore, LocalJobs.nextId(jobsDir), "the agent's job counter did not move");
    } catch (Throwable t) {
      System.err.println(first.logTail(80));
      System.err.println(second.logTail(80));
      throw t;
    } finally {
      cleanUp(jobsDir, spawned, first, second);
    }
  }

  /**
   * Two replicas wanted; SIGKILL as soon as the first job exists, while the second submission is on its way (or just
   * done). Whichever it was, the journal's submission intents settle it after the restart: a job that reached the
   * scheduler is adopted by its tag, one that did not is submitted again, and exactly two jobs were ever started.
   *
   * <p>Before the H2 journal was opened with {@code WRITE_DELAY=0} this failed in 4 runs of 8: H2 kept commits in
   * memory for up to 500 ms, a SIGKILL right after a submission lost its {@code SubmitIntended}, and the restarted
   * gateway submitted two new jobs while the first ran on as an orphan.
   */
  @Test void aGatewayKilledBetweenTwoSubmissionsNeitherLosesNorDuplicatesAJob() throws Exception {
    Path dir = Files.createTempDirectory("sluice-crash-submit");
    EmbeddedStack.writeAgentConfig(dir);
    int port = EmbeddedStack.freePort();
    Path conf = CrashDrill.writeConfig(dir, config(dir, port, """
        mock-llm { cluster = local, min-replicas = 2, max-replicas = 2, max-inflight-per-replica = 8 }"""));
    Path jobsDir = dir.resolve("agent/jobs");
    GatewayProcess first = new GatewayProcess(conf, dir.resolve("gateway-1.log"), port);
    GatewayProcess second = new GatewayProcess(conf, dir.resolve("gateway-2.log"), port);
    List<ProcessHandle> spawned = new ArrayList<>();
    try {
      first.launch();
      List<ProcessHandle> agents = Await.until(READY_WAIT, "the gateway's local agent", () -> first.descendants(AGENT),
          found -> !found.isEmpty());
      // Not Await: the kill must land between two submissions a few milliseconds apart, so this polls without a pause
      // (Await pauses up to 200 ms between polls, long enough for the second submission to slip through).
      long until = System.nanoTime() + READY_WAIT.toNanos();
      while (LocalJobs.folders(jobsDir).isEmpty()) {
        if (System.nanoTime() > until || !first.isAlive()) throw new AssertionError("no job was submitted\n" + first.logTail(60));
        Thread.onSpinWait();
      }
      first.kill9();
      Set<String> atKill = LocalJobs.folders(jobsDir);
      awaitGone(agents, Duration.ofSeconds(30));           // its submissions, if any, are over
      spawned.addAll(LocalJobs.runners(jobsDir));
      Set<String> afterAgent = LocalJobs.folders(jobsDir);

      second.launch();
      // Until the restarted gateway answers, asking it fails: that means "not yet".
      Await.ignoring(Exception.class).until(READY_WAIT, "two ready replicas after the restart",
          () -> CrashDrill.routableJobs(second.baseUrl(), "mock-llm"), ready -> ready.size() == 2);
      spawned.addAll(second.handle().descendants().toList());
      Set<String> serving = CrashDrill.routableJobs(second.baseUrl(), "mock-llm");
      String log = new String(Files.readAllBytes(second.log()), java.nio.charset.StandardCharsets.UTF_8);
      System.out.printf("CRASH local, SIGKILL between submissions: %s job folder(s) at the kill, %s once the old agent "
              + "was gone; the restarted gateway adopted %d and submitted %d; serving %s%n", atKill, afterAgent,
          count(log, "adopted job"), count(log, "submitting a job for"), serving);

      assertTrue(serving.containsAll(atKill), "the jobs that existed at the kill serve, none replaced: " + atKill + " vs " + serving);
      assertEquals(List.of(), CrashDrill.burst(CrashDrill.openai(second.baseUrl()), "mock-llm", 10));
      Thread.sleep(2000);                                  // a fixed wait: a late resubmission would show within several polls
      assertEquals(serving, LocalJobs.ids(jobsDir), "exactly two jobs were ever submitted, and both serve");
      assertEquals(serving, LocalJobs.folders(jobsDir), "no submission was left half done");
      assertEquals(3, LocalJobs.nextId(jobsDir), "the agent's job counter: two submissions");
      assertEquals(serving, CrashDrill.trackedJobs(second.baseUrl(), "mock-llm"), "the gateway tracks exactly these");
      for (String id : serving) assertEquals("RUNNING", LocalJobs.state(jobsDir, id), id);
    } catch (Throwable t) {
      System.err.println(first.logTail(80));
      System.err.println(second.logTail(80));
      throw t;
    } finally {
      cleanUp(jobsDir, spawned, first, second);
    }
  }

  // ---------------------------------------------------------------- helpers

  /** The gateway's deployment file: the embedded stack's settings on a fixed port, so a restart is found again. */
  private static String config(Path dir, int port, String services) throws IOException {
    return """
        sluice {
          data-dir = "%s"
          http { port = %d, sse-keep-alive = 300ms, sse-commit-after = 400ms }
          management.port = %d
          admin.key = "%s"
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 200ms
          clusters.local { transport = local, local.agent-config = "%s", poll-interval = 300ms }
          services {
        %s
          }
        }
        """.formatted(dir.resolve("data"), port, EmbeddedStack.freePort(), EmbeddedStack.ADMIN_KEY, EmbeddedStack.API_KEY,
        dir.resolve("agent.json"), services.indent(4));
  }

  /**
   * Waits until every process has exited; returns when it saw that ({@link System#nanoTime}), or -1 if one still ran
   * after {@code timeout}, which the callers report rather than fail on.
   */
  private static long awaitGone(List<ProcessHandle> processes, Duration timeout) throws Exception {
    try {
      Await.until(timeout, "processes " + pids(processes) + " to exit", () -> processes.stream().noneMatch(ProcessHandle::isAlive));
      return System.nanoTime();
    } catch (AssertionError stillRunning) {
      return -1;
    }
  }

  private static List<Long> pids(List<ProcessHandle> processes) {
    return processes.stream().map(ProcessHandle::pid).toList();
  }

  private static int count(String text, String needle) {
    return (int) Pattern.compile(Pattern.quote(needle)).matcher(text).results().count();
  }

  /**
   * Stops the last gateway, cancels every job through the local scheduler's own cancel file (the runners honour it,
   * SIGTERM then SIGKILL), and kills whatever process of ours is still alive after that.
   */
  static void cleanUp(Path jobsDir, List<ProcessHandle> spawned, GatewayProcess... gateways) throws Exception {
    for (GatewayProcess g : gateways) g.close();
    for (String id : LocalJobs.folders(jobsDir)) {
      if (Files.isDirectory(jobsDir.resolve(id))) Files.writeString(jobsDir.resolve(id).resolve("cancel"), "cancel\n");
    }
    spawned.addAll(LocalJobs.runners(jobsDir));
    try {
      Await.until(Duration.ofSeconds(20), "the cancelled jobs' processes to exit", () -> spawned.stream().noneMatch(ProcessHandle::isAlive));
    } catch (AssertionError stillRunning) {
      // killed below
    }
    for (ProcessHandle p : spawned) {
      if (p.isAlive()) {
        System.err.println("killing leftover process " + p.pid() + " " + p.info().commandLine().orElse(""));
        p.descendants().forEach(ProcessHandle::destroyForcibly);
        p.destroyForcibly();
      }
    }
  }

  /** The local scheduler's state folder as the tests read it: {@code jobs/<id>/job.json, state.json} and {@code next-id}. */
  static final class LocalJobs {
    private LocalJobs() {}

    /** Every job folder, including one whose submission was cut short before its state was written. */
    static Set<String> folders(Path jobsDir) throws IOException {
      Set<String> out = new TreeSet<>();
      if (!Files.isDirectory(jobsDir)) return out;
      try (Stream<Path> dirs = Files.list(jobsDir)) {
        dirs.filter(Files::isDirectory).map(p -> p.getFileName().toString()).filter(n -> n.matches("[0-9]+")).forEach(out::add);
      }
      return out;
    }

    /** The jobs the scheduler started: folders with a state. */
    static Set<String> ids(Path jobsDir) throws IOException {
      Set<String> out = new TreeSet<>();
      for (String id : folders(jobsDir)) if (Files.isRegularFile(jobsDir.resolve(id).resolve("state.json"))) out.add(id);
      return out;
    }

    /** The id the next submission gets: one more than the number of jobs ever submitted in this folder. */
    static long nextId(Path jobsDir) throws IOException {
      Path counter = jobsDir.resolve("next-id");
      return Files.exists(counter) ? Long.parseLong(Files.readString(counter).trim()) : 1;
    }

    static String state(Path jobsDir, String id) throws IOException {
      return CrashDrill.JSON.readTree(jobsDir.resolve(id).resolve("state.json").toFile()).path("state").asText();
    }

    /** The runner processes (the local "slurmstepd") still alive, to clean up what survived the gateways. */
    static List<ProcessHandle> runners(Path jobsDir) throws IOException {
      List<ProcessHandle> out = new ArrayList<>();
      for (String id : ids(jobsDir)) {
        JsonNode pid = CrashDrill.JSON.readTree(jobsDir.resolve(id).resolve("state.json").toFile()).path("runnerPid");
        if (pid.canConvertToLong()) ProcessHandle.of(pid.asLong()).ifPresent(p -> {
          out.add(p);
          p.descendants().forEach(out::add);
        });
      }
      return out;
    }
  }
}
