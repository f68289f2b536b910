package sluice.core;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.Done;
import org.apache.pekko.actor.testkit.typed.javadsl.ActorTestKit;
import org.apache.pekko.japi.Pair;
import org.apache.pekko.stream.javadsl.Keep;
import org.apache.pekko.stream.javadsl.Sink;
import org.apache.pekko.stream.javadsl.Source;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;

/** Callbacks on Pekko's stages run where the stage completes, and no JVM of ours starts a thread per async task. */
class StagesTest {
  private static final ActorTestKit KIT = ActorTestKit.create("stages");

  @AfterAll static void stop() { KIT.shutdownTestKit(); }

  @Test void aCallbackOnAStreamsTerminationRunsOnTheThreadThatEndsTheStream() throws Exception {
    Pair<CompletableFuture<Optional<Integer>>, CompletionStage<Done>> m = Source.<Integer>maybe()
        .watchTermination(Keep.both())
        .to(Sink.ignore())
        .run(KIT.system());
    CompletableFuture<String> ranOn = new CompletableFuture<>();
    Stages.whenDone(m.second(), (d, e) -> ranOn.complete(Thread.currentThread().getName()));
    m.first().complete(Optional.empty());                // the stream ends on its interpreter's dispatcher thread
    String thread = ranOn.get(5, TimeUnit.SECONDS);
    assertTrue(thread.startsWith("stages-pekko.actor.default-dispatcher-"), "ran on " + thread);
  }

  /** The child JVM sees 2 processors, as the bench machine; with fewer than 3, the JDK's default is a thread per task. */
  @Test void withTwoProcessorsAsyncTasksRunOnTheCommonPoolNotOnAThreadEach() throws Exception {
    assertTrue(runOnTwoProcessors(false).startsWith("Thread-"), "the JDK's own default, the reason for the helper");
    String withHelper = runOnTwoProcessors(true);
    assertTrue(withHelper.startsWith("parallelism 2 ForkJoinPool.commonPool-worker-"), withHelper);
  }

  private static String runOnTwoProcessors(boolean helper) throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process p = new ProcessBuilder(List.of(java.toString(), "-XX:ActiveProcessorCount=2", "-Xshare:auto",
        "-cp", System.getProperty("java.class.path"), CommonPoolProbe.class.getName(), Boolean.toString(helper)))
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
    assertTrue(p.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    return out;
  }

  /** Run in the child JVM: which thread runs an async task without an executor. */
  public static final class CommonPoolProbe {
    public static void main(String[] args) {
      String parallelism = Boolean.parseBoolean(args[0]) ? "parallelism " + Stages.atLeastTwoCommonPoolThreads() + " " : "";
      System.out.println(parallelism + CompletableFuture.supplyAsync(() -> Thread.currentThread().getName()).join());
    }
  }
}
