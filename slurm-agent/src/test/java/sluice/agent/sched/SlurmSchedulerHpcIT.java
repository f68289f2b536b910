package sluice.agent.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.config.SlurmTime;
import sluice.agent.sched.Scheduler.SchedulerException;
import sluice.agent.testing.Await;
import sluice.agent.testing.HpcSandbox;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * {@link SlurmScheduler} against the sandbox's real Slurm 22.05: sbatch, squeue and scancel as they really behave.
 * The tests run as root, so the scheduler does too (its jobs are root's), with the sandbox's SLURM_CONF.
 */
@Timeout(120)
class SlurmSchedulerHpcIT {
  private static HpcSandbox sandbox;
  @TempDir Path dir;
  private SlurmScheduler scheduler;
  private ServiceSpec web;
  private final List<String> toCancel = new ArrayList<>();

  @BeforeAll static void sandbox() {
    sandbox = HpcSandbox.require();
  }

  @BeforeEach void setUp() throws IOException {
    Path www = Files.createDirectories(dir.resolve("www"));
    Files.writeString(www.resolve("ok.txt"), "served by a Slurm job\n");
    // The model server stand-in: python's static file server on the port the agent chose. The directive would send
    // stderr elsewhere; the agent's own --error on the command line wins, so the logs call sees both streams.
    Files.writeString(dir.resolve("web.sbatch"), """
        #!/bin/bash
        #SBATCH --error=/dev/null
        echo "job $SLURM_JOB_ID on $(hostname) port $SLUICE_PORT service $SLUICE_SERVICE tag $SLUICE_JOB_TAG"
        echo "a line on stderr" >&2
        echo "token=$SLUICE_JOB_TOKEN"
        exec python3 -m http.server "$SLUICE_PORT" --bind 127.0.0.1 --directory "$WWW"
        """);
    web = new ServiceSpec("web", dir.resolve("web.sbatch"), SlurmTime.parse("10"), List.of("/*"), java.util.Set.of("GET"),
        "/ok.txt", Map.of("WWW", www.toString()));
    AgentConfig.Slurm settings = new AgentConfig.Slurm(Duration.ofSeconds(30), 20000, 39999, "127.0.0.1",
        Duration.ofHours(1), Duration.ofSeconds(30), Optional.of("debug"), Optional.empty(), Optional.empty(), "sbatch",
        "squeue", "scancel");
    scheduler = new SlurmScheduler(dir.resolve("state"), settings, Map.of("web", web),
        Map.of("SLURM_CONF", sandbox.slurmConf().toString()), Clock.systemUTC());
  }

  @AfterEach void cancelLeftovers() throws Exception {
    if (!toCancel.isEmpty()) {
      List<String> cmd = new ArrayList<>(List.of("scancel"));
      cmd.addAll(toCancel);
      sandbox.slurm(cmd.toArray(String[]::new));
    }
  }

  private static String tag() {
    return "it." + String.format("%016x", ThreadLocalRandom.current().nextLong());
  }

  private JobInfo await(String id, Predicate<JobInfo> condition) throws Exception {
    return Await.until(Duration.ofSeconds(40), "job " + id + " to get there", () -> scheduler.job(id).orElse(null),
        j -> j != null && condition.test(j));
  }

  /** Submits a job with plain sbatch, as the same account but not through the agent. */
  private String foreign(String... options) throws Exception {
    List<String> cmd = new ArrayList<>(List.of("sbatch", "--parsable", "--time=5", "--chdir=/tmp", "--output=/dev/null"));
    cmd.addAll(List.of(options));
    cmd.add("--wrap=sleep 300");
    String id = sandbox.slurm(cmd.toArray(String[]::new)).strip().split(";")[0];
    toCancel.add(id);
    return id;
  }

  private String squeueState(String id) throws Exception {
    return sandbox.slurm("squeue", "-h", "-t", "all", "-j", id, "-o", "%T").strip();
  }

  @Test void jobRunsAnswersOnItsPortIsIdempotentByTagAndCancels() throws Exception {
    String tag = tag();
    JobInfo submitted = scheduler.submit(web, tag);
    toCancel.add(submitted.id());
    assertEquals(JobState.PENDING, submitted.state());
    assertEquals(submitted.id(), scheduler.submit(web, tag).id(), "the same tag again is the same job");

    JobInfo running = await(submitted.id(), j -> j.state() == JobState.RUNNING);
    assertEquals(tag, running.tag());
    assertEquals("web", running.service());
    assertNotNull(running.node(), "squeue names the node");
    assertNotNull(running.submitTime());
    assertNotNull(running.startTime());
    assertEquals(600L, running.timeLimitSeconds(), "10 minutes");
    assertEquals(running.startTime().plusSeconds(600), running.endTime(), "expected end = start + limit");
    long skew = Math.abs(Duration.between(running.startTime(), java.time.Instant.now()).toSeconds());
    assertTrue(skew < 60, "squeue's local times are read in the right zone: start " + running.startTime());
    JobInfo listed = scheduler.jobs().stream().filter(j -> j.id().equals(submitted.id())).findFirst().orElseThrow();
    assertEquals(JobState.RUNNING, listed.state());
    assertEquals(running.node(), listed.node());
    assertEquals(running.startTime(), listed.startTime());

    URI endpoint = scheduler.endpoint(running).orElseThrow();
    assertEquals("127.0.0.1", endpoint.getHost(), "the node-address template");
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    // python needs a moment to bind: until then the connection is refused.
    String body = Await.ignoring(IOException.class).until(Duration.ofSeconds(20), "the job's web server on " + endpoint,
        () -> http.send(HttpRequest.newBuilder(endpoint.resolve("/ok.txt")).build(), HttpResponse.BodyHandlers.ofString()),
        r -> r.statusCode() == 200).body();
    assertEquals("served by a Slurm job\n", body);
    String out = Files.readString(dir.resolve("state/jobs/slurm-" + submitted.id() + ".out"));
    assertTrue(out.contains("port " + endpoint.getPort() + " service web tag " + tag), out);

    // The logs call's view of the same file: the agent's tail, with the job's secret masked.
    Path file = scheduler.outputFile(running).orElseThrow();
    assertEquals(dir.resolve("state/jobs/slurm-" + submitted.id() + ".out").toAbsolutePath(), file);
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(Files.getPosixFilePermissions(file)),
        "the output holds the job's secret: owner-only");
    String token = scheduler.token(running).orElseThrow();
    assertTrue(out.contains("token=" + token), "the job printed its token");
    List<String> tail = sluice.agent.LogTail.read(file, 50, Optional.of(token), 15 * 1024).lines();
    assertTrue(tail.stream().anyMatch(l -> l.contains("port " + endpoint.getPort() + " service web tag " + tag)), tail.toString());
    assertTrue(tail.contains("a line on stderr"), "stderr lands in the same file: " + tail);
    assertTrue(tail.contains("token=***"), tail.toString());
    assertTrue(tail.stream().noneMatch(l -> l.contains(token)), tail.toString());

    assertTrue(scheduler.cancel(submitted.id()).orElseThrow().cancelled());
    JobInfo cancelled = await(submitted.id(), j -> j.state() == JobState.CANCELLED);
    assertNotNull(cancelled.endTime());
    assertFalse(scheduler.cancel(submitted.id()).orElseThrow().cancelled(), "already final");
    assertEquals(Optional.empty(), scheduler.endpoint(cancelled));
    assertTrue(Files.readString(dir.resolve("state/slurm-jobs/" + submitted.id() + ".json")).contains("CANCELLED"),
        "the final state is remembered for when squeue forgets the job");
  }

  @Test void jobsOfTheSameAccountThatTheAgentDidNotSubmitAreInvisible() throws Exception {
    String tag = tag();
    String plain = foreign("--job-name=" + tag);                                        // no comment at all
    String otherService = foreign("--job-name=" + tag, "--comment=sluice/1 service=nope tag=" + tag + " port=20001");
    String nameMismatch = foreign("--job-name=not-the-tag", "--comment=sluice/1 service=web tag=" + tag + " port=20002");
    for (String id : List.of(plain, otherService, nameMismatch)) {
      assertTrue(scheduler.jobs().stream().noneMatch(j -> j.id().equals(id)), "listed: " + id);
      assertEquals(Optional.empty(), scheduler.job(id));
      assertEquals(Optional.empty(), scheduler.cancel(id), "cannot cancel " + id);
    }
    for (String id : List.of(plain, otherService, nameMismatch)) {
      String state = squeueState(id);
      assertTrue(state.equals("RUNNING") || state.equals("PENDING"), id + " still alive: " + state);
    }
    assertEquals(Optional.empty(), scheduler.job("999999999"), "an id Slurm never issued");
  }

  @Test void slurmsOwnErrorReachesTheCaller() {
    ServiceSpec wrong = new ServiceSpec("web", web.sbatch(), web.timeLimit(), web.allowedPaths(), web.allowedMethods(),
        web.healthPath(), web.environment(), new ServiceSpec.SlurmOptions(Optional.of("no-such-partition"),
        Optional.empty(), Optional.empty(), List.of()));
    var e = org.junit.jupiter.api.Assertions.assertThrows(SchedulerException.class, () -> scheduler.submit(wrong, tag()));
    assertTrue(e.getMessage().contains("sbatch failed") && e.getMessage().contains("artition"), e.getMessage());
  }
}
