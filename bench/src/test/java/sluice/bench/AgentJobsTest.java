package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentJobsTest {
  @TempDir Path state;

  /** One job folder as the local scheduler writes it (camelCase: the agent's wire mapper). */
  private void job(String id, String service, String stateJson) throws Exception {
    Path dir = Files.createDirectories(state.resolve("jobs").resolve(id));
    Files.writeString(dir.resolve("job.json"), """
        {"id":"%s","service":"%s","tag":"sluice-bench-lifecycle.00000000000000%s","script":"/x/mock-llm.sbatch",
         "shell":"/bin/bash","port":40000,"submitTime":"2026-11-23T01:47:40.1Z","timeLimitSeconds":24,
         "killWaitMillis":2000,"environment":{},"token":"secret"}""".formatted(id, service, id));
    if (stateJson != null) Files.writeString(dir.resolve("state.json"), stateJson);
  }

  @Test void readsEveryJobInIdOrderWithItsServiceStateAndRunner() throws Exception {
    job("10", "renewal", """
        {"state":"RUNNING","startTime":"2026-11-23T01:47:41Z","runnerPid":4242}""");
    job("9", "renewal", """
        {"state":"CANCELLED","startTime":"2026-11-23T01:47:21Z","endTime":"2026-11-23T01:47:41Z","exitCode":0,"runnerPid":4141}""");
    job("11", "scaleup", null);
    Files.writeString(state.resolve("jobs/next-id"), "12");
    AgentJobs jobs = AgentJobs.read(state);
    assertEquals(List.of("9", "10", "11"), jobs.ids(), "numeric order, not 10 < 9");
    assertEquals(12, jobs.nextId());
    assertEquals(2, jobs.of("renewal").size());
    assertEquals(1, jobs.live("renewal"));
    AgentJobs.Job running = jobs.of("renewal").get(1);
    assertEquals(4242L, running.runnerPid());
    assertEquals(Instant.parse("2026-11-23T01:47:40.1Z"), running.submitTime());
    AgentJobs.Job noStateYet = jobs.of("scaleup").get(0);
    assertTrue(noStateYet.live(), "submitted, runner not reported yet: pending");
    assertNull(noStateYet.runnerPid());
    assertFalse(jobs.of("renewal").get(0).live());
  }

  @Test void anEmptyOrMissingStateDirHasNoJobsAndStartsAtOne() throws Exception {
    AgentJobs none = AgentJobs.read(state.resolve("nothing-here"));
    assertEquals(List.of(), none.jobs());
    assertEquals(1, none.nextId());
  }

  @Test void aFolderWithoutItsSpecIsASubmissionInProgressAndSkipped() throws Exception {
    Files.createDirectories(state.resolve("jobs/3"));
    assertEquals(List.of(), AgentJobs.read(state).jobs());
  }
}
