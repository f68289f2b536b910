package sluice.agent.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sluice.agent.wire.Messages.JobInfo;
import sluice.agent.wire.Messages.JobState;

/** squeue lines as Slurm 22.05 prints them for {@link SlurmJobLine#FORMAT} (captured from the HPC sandbox). */
class SlurmJobLineTest {
  private static final String OURS = "sluice/1 service=mock-llm tag=dep-1.00112233aabbccdd port=23456";

  private static SlurmJobLine line(String text) {
    return SlurmJobLine.parse(text, ZoneOffset.UTC).orElseThrow();
  }

  @Test void runningJobOfTheAgent() {
    SlurmJobLine l = line("42|dep-1.00112233aabbccdd|RUNNING|vm|" + OURS
        + "|1-02:00:00|2026-11-22T23:12:42|2026-11-24T01:12:42|None|2026-11-22T23:12:41");
    SluiceComment c = l.ours().orElseThrow();
    assertEquals(new SluiceComment("mock-llm", "dep-1.00112233aabbccdd", 23456), c);
    JobInfo j = l.toJobInfo(c);
    assertEquals("42", j.id());
    assertEquals(JobState.RUNNING, j.state());
    assertEquals("vm", j.node());
    assertEquals(26 * 3600L, j.timeLimitSeconds(), "days in the time limit");
    assertEquals(Instant.parse("2026-11-22T23:12:42Z"), j.startTime());
    assertEquals(Instant.parse("2026-11-24T01:12:42Z"), j.endTime());
    assertEquals(Instant.parse("2026-11-22T23:12:41Z"), j.submitTime());
    assertEquals("None", j.reason());
  }

  @Test void pendingJobHasNoNodeAndNoGuessedTimes() {
    JobInfo j = line("43|t1|PENDING||sluice/1 service=m tag=t1 port=20000|UNLIMITED|N/A|N/A|Dependency|2026-11-22T23:12:52")
        .toJobInfo(new SluiceComment("m", "t1", 20000));
    assertEquals(JobState.PENDING, j.state());
    assertNull(j.node());
    assertNull(j.timeLimitSeconds(), "UNLIMITED");
    assertNull(j.startTime());
    assertNull(j.endTime());
    assertEquals("Dependency", j.reason());
    assertEquals(Instant.parse("2026-11-22T23:12:52Z"), j.submitTime());
    // Slurm's expected start of a pending job is kept on the line, but not reported as a start.
    SlurmJobLine withGuess = line("44|t1|PENDING||x|2:00|2026-11-23T00:12:41|2026-11-23T00:14:41|BeginTime|2026-11-22T23:12:41");
    assertEquals(Instant.parse("2026-11-23T00:12:41Z"), withGuess.start());
    assertEquals(120L, withGuess.timeLimitSeconds(), "M:S");
  }

  @Test void timesAreReadInTheGivenZone() {
    SlurmJobLine l = SlurmJobLine.parse("1|t|RUNNING|n|c|5|2026-07-01T12:00:00|Unknown|None|None", ZoneId.of("Europe/Berlin"))
        .orElseThrow();
    assertEquals(Instant.parse("2026-07-01T10:00:00Z"), l.start());
    assertNull(l.end());
    assertNull(l.submit());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = ';', value = {
      "no comment;              9|t1|RUNNING|vm|(null)|5:00|N/A|N/A|None|N/A",
      "someone else's comment;  9|t1|RUNNING|vm|my experiment|5:00|N/A|N/A|None|N/A",
      "name is not the tag;     9|other|RUNNING|vm|sluice/1 service=m tag=t1 port=20000|5:00|N/A|N/A|None|N/A",
      "extra words;             9|t1|RUNNING|vm|sluice/1 service=m tag=t1 port=20000 x|5:00|N/A|N/A|None|N/A",
      "other version;           9|t1|RUNNING|vm|sluice/2 service=m tag=t1 port=20000|5:00|N/A|N/A|None|N/A",
      "port out of range;       9|t1|RUNNING|vm|sluice/1 service=m tag=t1 port=70000|5:00|N/A|N/A|None|N/A",
      "array task;              9_1|t1|RUNNING|vm|sluice/1 service=m tag=t1 port=20000|5:00|N/A|N/A|None|N/A",
      "pipe in the comment;     9|t1|RUNNING|vm|sluice/1 service=m tag=t1 port=20000|x|5:00|N/A|N/A|None|N/A",
      "pipe in the name;        9|t1|x|RUNNING|vm|sluice/1 service=m tag=t1 port=20000|5:00|N/A|N/A|None|N/A"})
  void foreignJobsAreNotTheAgents(String why, String text) {
    assertEquals(Optional.empty(), SlurmJobLine.parse(text.strip(), ZoneOffset.UTC).flatMap(SlurmJobLine::ours), why);
  }

  @Test void parseAllSkipsBlankAndShortLines() {
    String out = "1|t|RUNNING|vm|c|5|N/A|N/A|None|N/A\n\nsqueue: warning\n2|t|PENDING||c|5|N/A|N/A|None|N/A\n";
    assertEquals(List.of("1", "2"), SlurmJobLine.parseAll(out, ZoneOffset.UTC).stream().map(SlurmJobLine::id).toList());
  }

  @ParameterizedTest
  @CsvSource({"PENDING,PENDING", "REQUEUE_HOLD,PENDING", "CONFIGURING,CONFIGURING", "RUNNING,RUNNING",
      "COMPLETING,COMPLETING", "STAGE_OUT,COMPLETING", "SUSPENDED,SUSPENDED", "COMPLETED,COMPLETED", "FAILED,FAILED",
      "CANCELLED,CANCELLED", "TIMEOUT,TIMEOUT", "NODE_FAIL,NODE_FAIL", "OUT_OF_MEMORY,OUT_OF_MEMORY",
      "PREEMPTED,PREEMPTED", "BOOT_FAIL,BOOT_FAIL", "DEADLINE,DEADLINE", "SOMETHING_NEW,PENDING"})
  void statesMapToTheAgentsStates(String slurm, JobState expected) {
    assertEquals(expected, SlurmJobLine.state(slurm));
  }

  @Test void anUnknownStateIsNamedInTheReason() {
    JobInfo j = line("9|t1|SOMETHING_NEW|vm|x|5|N/A|N/A|None|N/A").toJobInfo(new SluiceComment("m", "t1", 20000));
    assertEquals(JobState.PENDING, j.state());
    assertTrue(j.reason().contains("SOMETHING_NEW"), j.reason());
  }

  @ParameterizedTest
  @CsvSource(delimiter = ';', value = {"node5;node5", "gpu[07-09,12];gpu07", "gpu[07-09,12]-ib,cpu1;gpu07-ib",
      "a,b;a", "rack[2-3]-n[10-11];rack2-n10"})
  void firstNodeOfAHostList(String list, String first) {
    assertEquals(first, SlurmJobLine.firstNode(list));
  }

  @Test void sbatchParsableOutput() {
    assertEquals(Optional.of("42"), SlurmJobLine.parseSubmitted("42\n"));
    assertEquals(Optional.of("42"), SlurmJobLine.parseSubmitted("42;cluster-a\n"), "jobid;cluster");
    assertEquals(Optional.of("43"), SlurmJobLine.parseSubmitted("sbatch: note\n43\n"));
  }

  @Test void sbatchOutputWithoutAnIdIsRejected() {
    assertEquals(Optional.empty(), SlurmJobLine.parseSubmitted("Submitted batch job 42\n"));
    assertEquals(Optional.empty(), SlurmJobLine.parseSubmitted(""));
  }
}
