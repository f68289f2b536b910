package sluice.agent.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.config.AgentConfig;
import sluice.agent.config.ServiceSpec;
import sluice.agent.config.SlurmTime;
import sluice.agent.testing.Await;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/**
 * The scheduler's bookkeeping against stand-in sbatch/squeue/scancel scripts: what it runs, what it counts as its own,
 * and what it reports once squeue has forgotten a job. The real Slurm is exercised by {@code SlurmSchedulerHpcIT}.
 */
@Timeout(30)
class SlurmSchedulerTest {
  @TempDir Path dir;
  private Path fake;
  private final MutableClock clock = new MutableClock(Instant.parse("2026-11-22T12:00:00Z"));
  private ServiceSpec web;
  private static final Duration MAX_AGE = Duration.ofSeconds(30);

  private static final class MutableClock extends Clock {
    volatile Instant now;

    MutableClock(Instant now) { this.now = now; }

    @Override public ZoneId getZone() { return ZoneOffset.UTC; }

    @Override public Clock withZone(ZoneId zone) { return this; }

    @Override public Instant instant() { return now; }
  }

  @BeforeEach void fakes() throws IOException {
    fake = Files.createDirectories(dir.resolve("fake"));
    script("sbatch", "printf '%s\\n' \"$@\" > \"$FAKE/sbatch.args\"; env > \"$FAKE/sbatch.env\"; cat \"$FAKE/sbatch.reply\"");
    script("squeue", "printf '%s\\n' \"$@\" > \"$FAKE/squeue.args\"; env > \"$FAKE/squeue.env\"; "
        + "echo x >> \"$FAKE/squeue.calls\"; cat \"$FAKE/squeue.out\"");
    script("scancel", "echo \"$@\" >> \"$FAKE/scancel.calls\"");
    Files.writeString(fake.resolve("sbatch.reply"), "101;cluster\n");
    Files.writeString(fake.resolve("squeue.out"), "");
    Files.writeString(dir.resolve("web.sbatch"), "#!/bin/bash\n");
    web = new ServiceSpec("web", dir.resolve("web.sbatch"), SlurmTime.parse("1-00:30:00"), List.of("/"), java.util.Set.of("GET"),
        "/health", Map.of("MODEL_DIR", "/models/x"),
        new ServiceSpec.SlurmOptions(Optional.of("gpu"), Optional.empty(), Optional.of("gpu:1"), List.of("--mem=4G")));
  }

  private void script(String name, String body) throws IOException {
    Path f = fake.resolve(name);
    Files.writeString(f, "#!/bin/sh\n" + body + "\n");
    Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rwxr-xr-x"));
  }

  private AgentConfig.Slurm settings(Duration timeout) {
    return new AgentConfig.Slurm(timeout, 30000, 30009, "{node}.ib", Duration.ofHours(1), MAX_AGE, Optional.of("batch"),
        Optional.of("proj"), Optional.empty(), fake.resolve("sbatch").toString(), fake.resolve("squeue").toString(),
        fake.resolve("scancel").toString());
  }

  private SlurmScheduler scheduler() {
    return scheduler(Duration.ofSeconds(10));
  }

  private SlurmScheduler scheduler(Duration timeout) {
    return new SlurmScheduler(dir.resolve("state"), settings(timeout), Map.of("web", web, "m", web),
        Map.of("FAKE", fake.toString()), clock);
  }

  private void squeue(String... lines) throws IOException {
    Files.writeString(fake.resolve("squeue.out"), String.join("\n", lines) + (lines.length == 0 ? "" : "\n"));
  }

  private static String ours(String id, String state, String node, String tag, int port) {
    return id + "|" + tag + "|" + state + "|" + node + "|sluice/1 service=web tag=" + tag + " port=" + port
        + "|1-00:30:00|2026-11-22T12:00:05|2026-11-23T12:30:05|None|2026-11-22T12:00:00";
  }

  private int squeueCalls() throws IOException {
    Path f = fake.resolve("squeue.calls");
    return Files.exists(f) ? Files.readAllLines(f).size() : 0;
  }

  @Test void submitRunsSbatchWithTheAgentsOptionsAndEnvironment() throws Exception {
    JobInfo j = scheduler().submit(web, "dep.00112233aabbccdd");
    assertEquals("101", j.id(), "jobid;cluster");
    assertEquals(JobState.PENDING, j.state());
    assertEquals(Long.valueOf(88200), j.timeLimitSeconds());
    List<String> args = Files.readAllLines(fake.resolve("sbatch.args"));
    String comment = args.stream().filter(a -> a.startsWith("--comment=")).findFirst().orElseThrow().substring(10);
    SluiceComment c = SluiceComment.decode(comment).orElseThrow();
    assertEquals("web", c.service());
    assertEquals("dep.00112233aabbccdd", c.tag());
    assertTrue(c.port() >= 30000 && c.port() <= 30009, "port from the configured range");
    Path jobs = dir.resolve("state/jobs").toAbsolutePath();
    assertEquals(List.of("--parsable", "--job-name=dep.00112233aabbccdd", "--comment=" + comment, "--time=1-00:30:00",
        "--chdir=" + jobs, "--output=" + jobs.resolve("slurm-%j.out"), "--error=" + jobs.resolve("slurm-%j.out"),
        "--export=ALL", "--partition=gpu",
        "--account=proj", "--gres=gpu:1", "--mem=4G", dir.resolve("web.sbatch").toAbsolutePath().toString()), args,
        "service options override the agent-wide ones; the script comes last");
    String env = Files.readString(fake.resolve("sbatch.env"));
    assertTrue(env.contains("SLUICE_PORT=" + c.port() + "\n"), env);
    assertTrue(env.contains("SLUICE_SERVICE=web\n"));
    assertTrue(env.contains("SLUICE_JOB_TAG=dep.00112233aabbccdd\n"));
    assertTrue(env.contains("SLURM_UMASK=0077\n"), "the job's output file is owner-only");
    assertTrue(env.contains("MODEL_DIR=/models/x\n"), "the service's environment");
    assertTrue(env.contains("PATH="), "on top of the agent's own environment");
    assertTrue(Files.isRegularFile(dir.resolve("state/slurm-jobs/101.json")), "remembered at submission");
    assertEquals(Optional.of(jobs.resolve("slurm-101.out")), scheduler().outputFile(j), "where --output put it");
  }

  @Test void sameTagReturnsTheExistingJobInsteadOfSubmittingAgain() throws Exception {
    squeue(ours("77", "RUNNING", "n1", "dep.aa", 30001));
    JobInfo j = scheduler().submit(web, "dep.aa");
    assertEquals("77", j.id());
    assertFalse(Files.exists(fake.resolve("sbatch.args")), "sbatch never ran");
    SlurmScheduler s = scheduler();
    s.submit(web, "dep.bb");                          // remembered, not yet in squeue: still found by its tag
    Files.delete(fake.resolve("sbatch.args"));
    assertEquals("101", s.submit(web, "dep.bb").id());
    assertFalse(Files.exists(fake.resolve("sbatch.args")));
  }

  @Test void aNewJobNeverGetsThePortOfAJobSqueueStillLists() throws Exception {
    List<String> lines = new java.util.ArrayList<>();
    for (int i = 0; i < 9; i++) lines.add(ours(Integer.toString(50 + i), "CANCELLED", "n1", "dep.old" + i, 30000 + i));
    squeue(lines.toArray(String[]::new));                 // their servers may still be shutting down on those ports
    SlurmScheduler s = scheduler();
    s.submit(web, "dep.new");
    String env = Files.readString(fake.resolve("sbatch.env"));
    assertTrue(env.contains("SLUICE_PORT=30009\n"), "the one port no listed job had: " + env);
  }

  @Test void anotherAgentProcesssListingCannotLoseAJobsSecret() throws Exception {
    SlurmScheduler submitter = scheduler();
    JobInfo job = submitter.submit(web, "dep.sec");
    String token = submitter.token(job).orElseThrow();
    // Another agent process on the login node listed the job while sbatch ran and writes its record last, secret-less.
    squeue(ours(job.id(), "RUNNING", "n1", "dep.sec", 30001));
    scheduler().jobs();
    Path record = dir.resolve("state/slurm-jobs/" + job.id() + ".json");
    Files.writeString(record, Files.readString(record).replaceAll(",?\\s*\"token\"\\s*:\\s*\"[^\"]*\"", ""));
    assertEquals(Optional.of(token), scheduler().token(job), "a third process still finds the secret");
    assertFalse(Files.readString(record).contains(token), "the shared record never holds it");
    assertEquals("rw-------", java.nio.file.attribute.PosixFilePermissions.toString(
        Files.getPosixFilePermissions(dir.resolve("state/slurm-jobs/" + job.id() + ".token"))));
  }

  @Test void malformedTagsAreRefusedBeforeAnythingRuns() {
    for (String tag : List.of("", "-x", "a b", "a;id", "../x", "a".repeat(129))) {
      assertThrows(Scheduler.SchedulerException.class, () -> scheduler().submit(web, tag), tag);
    }
    assertFalse(Files.exists(fake.resolve("sbatch.args")));
  }

  @Test void jobsListsOnlyTheAgentsJobsWithOneSqueueCall() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001),
        ours("6", "PENDING", "", "dep.bb", 30002),
        "7|dep.cc|RUNNING|n1|(null)|5:00|N/A|N/A|None|N/A",                                   // no comment
        "8|dep.dd|RUNNING|n1|sluice/1 service=gone tag=dep.dd port=30003|5:00|N/A|N/A|None|N/A",  // not configured
        "9|other|RUNNING|n1|sluice/1 service=web tag=dep.ee port=30004|5:00|N/A|N/A|None|N/A");   // name is not the tag
    SlurmScheduler s = scheduler();
    List<JobInfo> jobs = s.jobs();
    assertEquals(List.of("5", "6"), jobs.stream().map(JobInfo::id).toList());
    assertEquals(1, squeueCalls());
    assertEquals(List.of("--me", "-t", "all", "-h", "-o", SlurmJobLine.FORMAT), Files.readAllLines(fake.resolve("squeue.args")));
    assertTrue(Files.readString(fake.resolve("squeue.env")).contains("TZ=UTC\n"), "times are read as UTC");
    assertEquals(Optional.empty(), s.job("7"));
    assertEquals(Optional.empty(), s.job("8"));
    assertEquals(Optional.empty(), s.job("9"));
    assertEquals(Optional.empty(), s.job("5; scancel -u me"));
    assertEquals(JobState.RUNNING, s.job("5").orElseThrow().state());
  }

  @Test void cancelOnlyTouchesTheAgentsUnfinishedJobs() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001), ours("6", "COMPLETED", "n1", "dep.bb", 30002),
        "7|x|RUNNING|n1|(null)|5:00|N/A|N/A|None|N/A");
    SlurmScheduler s = scheduler();
    assertEquals(Optional.empty(), s.cancel("7"), "a foreign job is unknown");
    assertEquals(Optional.empty(), s.cancel("12345"));
    assertFalse(s.cancel("6").orElseThrow().cancelled(), "already final");
    assertFalse(Files.exists(fake.resolve("scancel.calls")));
    assertTrue(s.cancel("5").orElseThrow().cancelled());
    assertEquals(List.of("5"), Files.readAllLines(fake.resolve("scancel.calls")));
  }

  @Test void forwardsAndProbesReuseARecentListingInsteadOfOneSqueuePerRequest() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    SlurmScheduler s = scheduler();
    for (int i = 0; i < 100; i++) assertEquals(JobState.RUNNING, s.job("5").orElseThrow().state());
    assertEquals(1, squeueCalls(), "a hundred lookups within listing-max-age: one squeue");
    for (int i = 0; i < 100; i++) assertTrue(s.job("999").isEmpty());
    assertEquals(1, squeueCalls(), "unknown ids do not make the agent query slurmctld per request either");
    clock.now = clock.now.plus(ListingCache.MISS_REFRESH);
    assertTrue(s.job("999").isEmpty());
    assertEquals(2, squeueCalls(), "a miss looks again once the listing is a little older");
    clock.now = clock.now.plus(MAX_AGE);
    assertEquals(JobState.RUNNING, s.job("5").orElseThrow().state(), "an old listing still answers at once");
    Await.until(Duration.ofSeconds(5), "the background squeue", () -> squeueCalls() >= 3);
    assertEquals(3, squeueCalls(), "... and is refreshed in the background");
    s.jobs();
    assertEquals(4, squeueCalls(), "the gateway's poll always asks Slurm");
  }

  @Test void anotherAgentProcessServesARunningJobFromTheSharedListingWithoutSqueue() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    scheduler().jobs();                                  // one agent process answers the gateway's poll
    assertEquals(1, squeueCalls());
    SlurmScheduler other = scheduler();                  // another channel's agent process, same state folder
    for (int i = 0; i < 50; i++) assertEquals(JobState.RUNNING, other.job("5").orElseThrow().state());
    assertEquals(Optional.of(URI.create("http://n1.ib:30001")), other.endpoint(other.job("5").orElseThrow()));
    assertEquals(1, squeueCalls(), "the other process read the shared listing instead of running squeue");
  }

  @Test void pastListingMaxAgeARunningJobIsRefreshedOnceForEveryProcess() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    scheduler().jobs();
    SlurmScheduler other = scheduler();
    clock.now = clock.now.plus(MAX_AGE.minusMillis(1));
    assertEquals(JobState.RUNNING, other.job("5").orElseThrow().state());
    assertEquals(1, squeueCalls(), "younger than listing-max-age: the shared listing answers");
    clock.now = clock.now.plusMillis(1);
    for (int i = 0; i < 20; i++) assertEquals(JobState.RUNNING, other.job("5").orElseThrow().state(), "still at once");
    Await.until(Duration.ofSeconds(5), "the background squeue", () -> squeueCalls() >= 2);
    Path shared = dir.resolve("state/squeue-listing.json");
    Await.until(Duration.ofSeconds(5), "the refreshed listing to be shared",
        () -> Files.readString(shared).contains("\"at\":\"" + clock.now + "\""));
    SlurmScheduler third = scheduler();                 // a process that has listed nothing itself
    for (int i = 0; i < 20; i++) assertEquals(JobState.RUNNING, other.job("5").orElseThrow().state());
    assertEquals(JobState.RUNNING, third.job("5").orElseThrow().state());
    assertEquals(2, squeueCalls(), "one refresh past listing-max-age, shared by every process");
  }

  @Test void aMissAdoptsAListingAnotherProcessJustTookAndOtherwiseAsksSlurm() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001), ours("6", "PENDING", "", "dep.bb", 30002));
    scheduler().jobs();
    SlurmScheduler other = scheduler();
    assertEquals(JobState.PENDING, other.job("6").orElseThrow().state());
    assertEquals(Optional.empty(), other.job("999"));
    assertEquals(1, squeueCalls(), "listed a moment ago by another process: no squeue for a pending or unknown job");
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001), ours("6", "RUNNING", "n2", "dep.bb", 30002));
    clock.now = clock.now.plus(ListingCache.MISS_REFRESH);
    assertEquals(JobState.RUNNING, other.job("6").orElseThrow().state(), "the pending job is looked up again");
    assertEquals(2, squeueCalls());
  }

  @Test void aCorruptSharedListingIsIgnored() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    Files.createDirectories(dir.resolve("state"));
    for (String garbage : List.of("{\"generation\":\"\",\"listing\":{\"at\":", "[]", "null",
        "{\"generation\":\"\",\"listing\":{\"at\":\"2026-11-22T12:00:00Z\",\"jobs\":[{\"id\":\"5; rm\","
            + "\"service\":\"web\",\"state\":\"RUNNING\"}],\"ports\":{}}}",
        "{\"generation\":\"\",\"listing\":{\"at\":\"2026-11-22T12:00:00Z\",\"jobs\":[{\"id\":\"5\","
            + "\"service\":\"web\",\"state\":\"RUNNING\",\"node\":\"evil\"}],\"ports\":{\"5\":0}}}",
        "{\"generation\":\"\",\"listing\":{\"at\":\"2099-01-01T00:00:00Z\",\"jobs\":[],\"ports\":{}}}")) {
      Files.writeString(dir.resolve("state/squeue-listing.json"), garbage);
      int before = squeueCalls();
      SlurmScheduler s = scheduler();
      JobInfo j = s.job("5").orElseThrow();
      assertEquals(JobState.RUNNING, j.state(), garbage);
      assertEquals("n1", j.node(), garbage);
      assertEquals(before + 1, squeueCalls(), "squeue answered instead: " + garbage);
    }
    Files.write(dir.resolve("state/squeue-listing.stale"), new byte[] {(byte) 0xff, 0});
    clock.now = clock.now.plus(ListingCache.MISS_REFRESH);
    assertEquals(JobState.RUNNING, scheduler().job("5").orElseThrow().state(), "an unreadable generation mark too");
  }

  @Test void theSharedListingIsOwnerOnlyAndHoldsNoSecret() throws Exception {
    SlurmScheduler s = scheduler();
    JobInfo job = s.submit(web, "dep.sec");
    String token = s.token(job).orElseThrow();
    squeue(ours(job.id(), "RUNNING", "n1", "dep.sec", 30001));
    s.jobs();
    Path file = dir.resolve("state/squeue-listing.json");
    String content = Files.readString(file);
    assertTrue(content.contains("\"" + job.id() + "\""), content);
    assertFalse(content.contains(token), "no job secret in the shared listing");
    assertFalse(content.toLowerCase(java.util.Locale.ROOT).contains("token"), content);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
    try (var files = Files.list(dir.resolve("state"))) {
      assertEquals(List.of(), files.filter(f -> f.getFileName().toString().endsWith(".tmp")).toList(), "no temp left");
    }
  }

  @Test void afterACancelNoProcessReadsTheJobBackAsRunningFromTheSharedListing() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    SlurmScheduler canceller = scheduler();
    canceller.jobs();
    assertTrue(canceller.cancel("5").orElseThrow().cancelled());
    squeue(ours("5", "CANCELLED", "n1", "dep.aa", 30001).replace("2026-11-23T12:30:05", "2026-11-22T12:00:06"));
    SlurmScheduler other = scheduler();                  // lists nothing itself before the cancel
    assertEquals(JobState.CANCELLED, other.job("5").orElseThrow().state(), "at once: the shared listing predates it");
    assertEquals(JobState.CANCELLED, canceller.job("5").orElseThrow().state());
  }

  @Test void aProcessDropsItsOwnListingWithinMissRefreshOfAnotherProcesssCancel() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    SlurmScheduler other = scheduler();
    other.jobs();
    assertEquals(JobState.RUNNING, other.job("5").orElseThrow().state());
    assertTrue(scheduler().cancel("5").orElseThrow().cancelled());
    squeue(ours("5", "CANCELLED", "n1", "dep.aa", 30001).replace("2026-11-23T12:30:05", "2026-11-22T12:00:06"));
    clock.now = clock.now.plus(ListingCache.MISS_REFRESH);
    assertEquals(JobState.CANCELLED, other.job("5").orElseThrow().state(),
        "its own listing, younger than listing-max-age, no longer serves once MISS_REFRESH has passed");
  }

  @Test void aListingTakenBeforeACancelButSharedAfterItDoesNotServe() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    // The first squeue call reads Slurm's answer, then waits: its listing is shared only after the cancel.
    script("squeue", "echo x >> \"$FAKE/squeue.calls\"; out=$(cat \"$FAKE/squeue.out\"); "
        + "if [ -f \"$FAKE/hold\" ]; then rm \"$FAKE/hold\"; while [ ! -f \"$FAKE/go\" ]; do sleep 0.02; done; fi; "
        + "printf '%s\\n' \"$out\"");
    Files.writeString(fake.resolve("hold"), "");
    SlurmScheduler slow = scheduler();
    var poll = java.util.concurrent.CompletableFuture.supplyAsync(() -> {
      try {
        return slow.jobs();
      } catch (Scheduler.SchedulerException e) {
        throw new java.util.concurrent.CompletionException(e);
      }
    });
    Await.until(Duration.ofSeconds(5), "the slow squeue to have read Slurm's answer", () -> !Files.exists(fake.resolve("hold")));
    SlurmScheduler canceller = scheduler();
    assertTrue(canceller.cancel("5").orElseThrow().cancelled());
    squeue(ours("5", "CANCELLED", "n1", "dep.aa", 30001).replace("2026-11-23T12:30:05", "2026-11-22T12:00:06"));
    Files.writeString(fake.resolve("go"), "");
    assertEquals(JobState.RUNNING, poll.get(5, java.util.concurrent.TimeUnit.SECONDS).get(0).state(), "listed before");
    assertTrue(Files.readString(dir.resolve("state/squeue-listing.json")).contains("RUNNING"), "and shared after it");
    SlurmScheduler other = scheduler();
    assertEquals(JobState.CANCELLED, other.job("5").orElseThrow().state());
    assertEquals(JobState.CANCELLED, slow.job("5").orElseThrow().state(), "nor in the process that listed it");
  }

  @Test void aJobThatStartedSinceTheListingIsLookedUpAgain() throws Exception {
    squeue(ours("5", "PENDING", "", "dep.aa", 30001));
    SlurmScheduler s = scheduler();
    assertEquals(JobState.PENDING, s.job("5").orElseThrow().state());
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001));
    clock.now = clock.now.plus(ListingCache.MISS_REFRESH);
    assertEquals(JobState.RUNNING, s.job("5").orElseThrow().state(), "a pending entry is not reused for listing-max-age");
  }

  @Test void whileSqueueFailsAJobLastSeenRunningKeepsServing() throws Exception {
    squeue(ours("5", "RUNNING", "n1", "dep.aa", 30001), ours("6", "PENDING", "", "dep.bb", 30002));
    SlurmScheduler s = scheduler();
    s.jobs();
    script("squeue", "echo 'squeue: error: Unable to contact slurm controller (connect failure)' >&2; exit 1");
    clock.now = clock.now.plus(Duration.ofMinutes(5));
    assertEquals(JobState.RUNNING, s.job("5").orElseThrow().state(), "slurmctld down: the running job still serves");
    assertThrows(Scheduler.SchedulerException.class, () -> s.job("6"), "a job not known to run is not guessed");
    assertThrows(Scheduler.SchedulerException.class, s::jobs, "the gateway's poll sees the outage");
    SlurmScheduler fresh = scheduler();                  // another agent process on the login node, no listing yet
    assertEquals(JobState.RUNNING, fresh.job("5").orElseThrow().state(), "the shared state folder remembers it running");
    assertEquals(Optional.of(URI.create("http://n1.ib:30001")), fresh.endpoint(fresh.job("5").orElseThrow()));
    assertThrows(Scheduler.SchedulerException.class, () -> fresh.job("6"));
  }

  /**
   * Looks a running job up in an old listing (answered at once), waits for the background squeue, looks again. The
   * listing is stored after squeue returns, so the second look waits until the job reads differently from the old
   * listing: every caller changed the job in squeue's output.
   */
  private Optional<JobInfo> afterRefresh(SlurmScheduler s, String id) throws Exception {
    int before = squeueCalls();
    Optional<JobInfo> old = s.job(id);
    Await.until(Duration.ofSeconds(5), "the background squeue", () -> squeueCalls() > before);
    return Await.until(Duration.ofSeconds(5), "job " + id + " from the new listing", () -> s.job(id), j -> !j.equals(old));
  }

  @Test void endpointUsesTheNodeTemplateAndThePortFromTheComment() throws Exception {
    squeue(ours("5", "RUNNING", "gpu[07-08]", "dep.aa", 30001), ours("6", "PENDING", "", "dep.bb", 30002));
    SlurmScheduler s = scheduler();
    assertEquals(Optional.of(URI.create("http://gpu07.ib:30001")), s.endpoint(s.job("5").orElseThrow()));
    assertEquals(Optional.empty(), s.endpoint(s.job("6").orElseThrow()), "not running");
    squeue(ours("5", "RUNNING", "bad/host", "dep.aa", 30001));
    clock.now = clock.now.plus(MAX_AGE);  // past the reused listing
    assertEquals(Optional.empty(), s.endpoint(afterRefresh(s, "5").orElseThrow()), "a node name that is no host name");
  }

  @Test void aJobThatVanishesFromSqueueIsReportedLostAndNeverRunning() throws Exception {
    SlurmScheduler s = scheduler();
    s.submit(web, "dep.aa");                                   // id 101, remembered
    squeue(ours("101", "RUNNING", "n1", "dep.aa", 30001));
    assertEquals(JobState.RUNNING, s.job("101").orElseThrow().state());
    squeue();                                                   // slurmctld lost it (or MinJobAge passed)
    clock.now = clock.now.plus(MAX_AGE);
    JobInfo lost = afterRefresh(s, "101").orElseThrow();
    assertEquals(JobState.UNKNOWN, lost.state());
    assertTrue(lost.state().isFinal());
    assertEquals(clock.now, lost.endTime());
    assertTrue(lost.reason().contains("vanished"), lost.reason());
    assertEquals(Optional.empty(), s.endpoint(lost));
    assertFalse(s.cancel("101").orElseThrow().cancelled());
    clock.now = clock.now.plus(Duration.ofMinutes(61));
    assertEquals(Optional.empty(), s.job("101"), "forgotten after keep-finished");
    assertFalse(Files.exists(dir.resolve("state/slurm-jobs/101.json")));
  }

  @Test void aFinishedJobKeepsItsFinalStateAfterSqueueForgetsIt() throws Exception {
    squeue(ours("5", "TIMEOUT", "n1", "dep.aa", 30001).replace("2026-11-23T12:30:05", "2026-11-22T12:00:30"));
    assertEquals(JobState.TIMEOUT, scheduler().job("5").orElseThrow().state());
    squeue();
    JobInfo j = scheduler().job("5").orElseThrow();                 // a new agent process, same state folder
    assertEquals(JobState.TIMEOUT, j.state());
    assertEquals(Instant.parse("2026-11-22T12:00:30Z"), j.endTime());
    clock.now = Instant.parse("2026-11-22T13:01:00Z");
    assertEquals(List.of(), scheduler().jobs());
  }

  @Test void slurmErrorsCarryItsMessageAndHangsAreCutOff() throws Exception {
    script("sbatch", "echo 'sbatch: error: invalid partition specified: gpu' >&2; exit 1");
    var e = assertThrows(Scheduler.SchedulerException.class, () -> scheduler().submit(web, "dep.aa"));
    assertTrue(e.getMessage().contains("invalid partition specified"), e.getMessage());
    script("squeue", "sleep 20");
    long t0 = System.nanoTime();
    var e2 = assertThrows(Scheduler.SchedulerException.class, () -> scheduler(Duration.ofMillis(500)).jobs());
    assertTrue(e2.getMessage().contains("did not finish"), e2.getMessage());
    assertTrue(System.nanoTime() - t0 < Duration.ofSeconds(10).toNanos());
  }
}
