package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.config.AgentConfig;
import sluice.agent.sched.LocalScheduler;
import sluice.agent.testing.Await;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;
import sluice.agent.wire.Messages.LogsResult;
import sluice.agent.wire.MuxSession;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.WireJson;

/** The logs call end to end in the agent: a mux session, the real local scheduler and real job scripts. */
@Timeout(60)
class AgentLogsTest {
  @TempDir Path dir;
  private Agent agent;
  private final ExecutorService pool = Executors.newCachedThreadPool();
  private LocalScheduler scheduler;
  private MuxSession client;
  private MuxSession server;

  /** Starts an agent whose jobs run under {@code runner} (the real runner, or one that never starts them). */
  private void start(List<String> runner) throws Exception {
    Files.writeString(dir.resolve("talk.sbatch"), """
        #!/bin/bash
        for i in $(seq 1 100); do echo "line $i"; done
        echo "token=$SLUICE_JOB_TOKEN" >&2
        echo "done"
        sleep 60
        """);
    // A multi-GiB log: the job stretches its own output file (sparse), then writes its last lines after the gap.
    Files.writeString(dir.resolve("huge.sbatch"), """
        #!/bin/bash
        echo "before the gap"
        truncate -s 2G "slurm-$SLURM_JOB_ID.out"
        echo "a fragment: the window starts inside the gap"
        echo "after the gap"
        head -c 5000 /dev/zero | tr '\\0' z; echo
        echo "done"
        sleep 60
        """);
    Files.writeString(dir.resolve("agent.json"), """
        {"sluice-agent": {"state-dir": "state", "local": {"kill-wait": "1s"}, "services": {
          "talk": {"sbatch": "talk.sbatch", "time-limit": "5", "allowed-paths": ["/"]},
          "huge": {"sbatch": "huge.sbatch", "time-limit": "5", "allowed-paths": ["/"]}}}}""");
    AgentConfig config = AgentConfig.load(dir.resolve("agent.json"));
    scheduler = new LocalScheduler(config.stateDir(), config.local(), runner, Clock.systemUTC());
    agent = new Agent(config, scheduler);
    Socket a;
    Socket b;
    try (ServerSocket ss = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      a = new Socket(InetAddress.getLoopbackAddress(), ss.getLocalPort());
      b = ss.accept();
    }
    server = MuxSession.server(b.getInputStream(), b.getOutputStream(), Limits.DEFAULT, "agent", agent::accept).start("agent");
    client = MuxSession.client(new BufferedInputStream(a.getInputStream()), a.getOutputStream(), Limits.DEFAULT, "gw").start("gw");
    client.peerHello().get(5, TimeUnit.SECONDS);
  }

  @AfterEach void tearDown() throws Exception {
    if (scheduler != null) {
      for (JobInfo j : scheduler.jobs()) if (!j.state().isFinal()) scheduler.cancel(j.id());
      // Wait for the runners to see the cancel file: once @TempDir deletes the folder they never would.
      Await.until(Duration.ofSeconds(15), "every job to end", () -> scheduler.jobs().stream().allMatch(j -> j.state().isFinal()));
    }
    if (client != null) client.close();
    if (server != null) server.close();
    pool.shutdownNow();
    agent.close();
  }

  private Messages.Reply call(Messages.Call call) throws Exception {
    return client.open(call, true).reply().get(10, TimeUnit.SECONDS);
  }

  private LogsResult logs(String service, String job, int lines) throws Exception {
    Messages.Reply r = call(new Messages.Logs(service, job, lines));
    assertFalse(r.hasError(), () -> "refused: " + r.error());
    return WireJson.convert(r.result(), LogsResult.class);
  }

  private String submit(String service) throws Exception {
    return WireJson.convert(call(new Messages.Submit(service, "t." + service)).result(), JobInfo.class).id();
  }

  private LogsResult awaitLogs(String service, String job, int lines, Predicate<LogsResult> done) throws Exception {
    return Await.until(Duration.ofSeconds(30), "the logs of job " + job + " to get there", () -> logs(service, job, lines), done);
  }

  private Path jobDir(String id) {
    return dir.resolve("state/jobs/" + id);
  }

  private String tokenOf(String id) throws IOException {
    return WireJson.MAPPER.readTree(jobDir(id).resolve("job.json").toFile()).get("token").asText();
  }

  @Test void theLastLinesOfBothOutputStreamsWithTheTokenMasked() throws Exception {
    start(LocalScheduler.defaultRunnerCommand());
    String id = submit("talk");
    LogsResult r = awaitLogs("talk", id, 4, l -> l.lines().contains("done"));
    assertEquals(new LogsResult(id, List.of("line 99", "line 100", "token=***", "done"), true), r,
        "stdout and stderr in one file, the job's secret masked");
    String token = tokenOf(id);
    assertEquals(48, token.length());
    Path out = jobDir(id).resolve("slurm-" + id + ".out");
    assertTrue(Files.readString(out).contains("token=" + token), "the file itself holds the token...");
    assertEquals(PosixFilePermissions.fromString("rw-------"), Files.getPosixFilePermissions(out), "...so it is owner-only");

    LogsResult fifty = logs("talk", id, Messages.DEFAULT_LOG_LINES);
    assertEquals(50, fifty.lines().size());
    assertEquals("line 53", fifty.lines().get(0));
    LogsResult all = logs("talk", id, Messages.MAX_LOG_LINES);
    assertEquals(102, all.lines().size());
    assertFalse(all.truncated(), "the whole file");
    assertTrue(all.lines().stream().noneMatch(l -> l.contains(token)));
  }

  @Test void aMultiGigabyteLogCostsOnlyItsTail() throws Exception {
    start(LocalScheduler.defaultRunnerCommand());
    String id = submit("huge");
    LogsResult r = awaitLogs("huge", id, Messages.MAX_LOG_LINES, l -> l.lines().contains("done"));
    assertEquals(List.of("after the gap", "z".repeat(LogTail.MAX_LINE_CHARS), "done"), r.lines(),
        "only the last 64 KiB: the gap's zeros and what came before are not there; the long line is cut");
    assertTrue(r.truncated());
    assertTrue(Files.size(jobDir(id).resolve("slurm-" + id + ".out")) > 2L << 30);
    long t0 = System.nanoTime();
    logs("huge", id, Messages.MAX_LOG_LINES);
    assertTrue(System.nanoTime() - t0 < TimeUnit.SECONDS.toNanos(5), "no pass over the 2 GiB");
  }

  @Test void onlyTheAgentsOwnJobsOfTheNamedService() throws Exception {
    start(LocalScheduler.defaultRunnerCommand());
    String talk = submit("talk");
    awaitLogs("talk", talk, 1, l -> l.lines().contains("done"));
    Messages.Reply wrongService = call(new Messages.Logs("huge", talk, 10));
    assertEquals(404, wrongService.status());
    assertEquals(ProblemCode.UNKNOWN_JOB, wrongService.error().code(), "a job of another service");
    assertEquals(ProblemCode.UNKNOWN_JOB, call(new Messages.Logs("talk", "999", 10)).error().code(), "a job it never submitted");
    assertEquals(ProblemCode.UNKNOWN_SERVICE, call(new Messages.Logs("nope", talk, 10)).error().code());
  }

  @Test void aPendingJobHasNoOutputYet() throws Exception {
    // A runner that never starts the job: it stays PENDING, as in a Slurm queue, and its output file does not exist.
    start(List.of("bash", "-c", "sleep 30", "never-starts"));
    String id = submit("talk");
    try {
      assertEquals(JobState.PENDING, scheduler.job(id).orElseThrow().state());
      assertEquals(new LogsResult(id, List.of(), false), logs("talk", id, 10));
    } finally {
      long runner = WireJson.MAPPER.readTree(jobDir(id).resolve("state.json").toFile()).get("runnerPid").asLong();
      ProcessHandle.of(runner).ifPresent(ProcessHandle::destroy);
    }
  }
}
