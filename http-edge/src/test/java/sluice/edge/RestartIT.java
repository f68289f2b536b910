package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.openai.client.okhttp.OpenAIOkHttpClient;
import com.openai.models.ChatModel;
import com.openai.models.chat.completions.ChatCompletionCreateParams;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.core.cluster.JobSnapshot;
import sluice.core.service.ServiceStatus;

/** A gateway restart recovers its jobs from the journal and re-adopts the running one instead of submitting anew. */
@Timeout(240)
class RestartIT {
  @Test void restartedGatewayReadoptsTheRunningJob() throws Exception {
    Path dir = Files.createTempDirectory("sluice-restart");
    EmbeddedStack.writeAgentConfig(dir);
    var config = EmbeddedStack.config(dir, "sluice.services.slow.min-replicas = 0");
    String job;
    try (Gateway first = Gateway.start(config)) {
      job = EmbeddedStack.awaitReady(first, "mock-llm").replicas().get(0).jobId();
    }                                                             // jobs keep running, as Slurm jobs do

    try (Gateway second = Gateway.start(config)) {
      ServiceStatus s = EmbeddedStack.awaitReady(second, "mock-llm");
      assertEquals(1, s.replicas().size());
      assertEquals(job, s.replicas().get(0).jobId(), "the same job serves after the restart");
      var reply = OpenAIOkHttpClient.builder().apiKey(EmbeddedStack.API_KEY).baseUrl(second.baseUrl() + "/v1").build()
          .chat().completions().create(ChatCompletionCreateParams.builder().model(ChatModel.of("mock-llm"))
              .addUserMessage("still there?").maxCompletionTokens(2).build());
      assertEquals(2, reply.usage().orElseThrow().completionTokens());
      var jobs = second.cluster("local").jobs().toCompletableFuture().get();
      assertEquals(1, jobs.stream().filter(j -> j.service().equals("mock-llm")).count(), "nothing was submitted twice");
      for (JobSnapshot j : jobs) second.cluster("local").cancel(j.jobId()).toCompletableFuture().get();
    }
  }
}
