package sluice.bench;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/** Path 1: mock-llm alone, started the way the job script starts it, and requests sent straight to it. */
final class DirectStack implements Stack {
  private final Process process;
  private final URI base;

  private DirectStack(Process process, URI base) {
    this.process = process;
    this.base = base;
  }

  /**
   * mock-llm's JVM options on every path the bench starts (MOCK_LLM_JAVA_OPTS of sbatch/mock-llm.sbatch, and of the
   * sandbox's bench service): its default 256 MiB heap collected without end under 10,000 open connections. G1, because
   * mock-llm answers the probe too: with 10,000 slow streams the serial collector's young pauses took 0.35-0.56 s each
   * (a bench run); in one harness run each, the parallel collector had a 0.9 s full collection, G1 0.7 s of young
   * pauses in all and no full one.
   */
  static final List<String> MOCK_JVM = List.of("-Xmx1g", "-XX:+UseG1GC");

  static DirectStack start(Path home, Path work, List<String> mockArgs) throws IOException, InterruptedException {
    int port = Processes.freePort();
    // The JVM options the bench gives sbatch/mock-llm.sbatch, so the model server is the same program on every path.
    List<String> cmd = new ArrayList<>(List.of(Processes.java()));
    cmd.addAll(MOCK_JVM);
    cmd.addAll(List.of("-jar", home.resolve("mock-llm/target/mock-llm.jar").toString(), "--port", Integer.toString(port), "--model", Api.MODEL));
    cmd.addAll(mockArgs);
    Path log = work.resolve("direct/mock-llm.log");
    DirectStack s = new DirectStack(Processes.start(cmd, Map.of(), log), URI.create("http://127.0.0.1:" + port));
    try {
      s.awaitHealthy(log);
    } catch (IOException | InterruptedException | RuntimeException e) {
      s.close();
      throw e;
    }
    return s;
  }

  private void awaitHealthy(Path log) throws IOException, InterruptedException {
    HttpClient http = Api.client();
    long until = System.nanoTime() + Duration.ofSeconds(30).toNanos();
    while (System.nanoTime() < until) {
      if (!process.isAlive()) throw new IOException("mock-llm exited:\n" + Processes.tail(log, 20));
      try {
        Api.get(http, base.resolve("/health"), null);
        return;
      } catch (IOException notYet) {
        Thread.sleep(100);
      }
    }
    throw new IOException("mock-llm did not become healthy in 30 s:\n" + Processes.tail(log, 20));
  }

  @Override public String path() {
    return "direct";
  }

  @Override public URI baseUri() {
    return base;
  }

  @Override public Map<Long, String> owners(ProcSnapshot snapshot) {
    Map<Long, String> owners = new HashMap<>();
    owners.put(ProcessHandle.current().pid(), CpuUse.LOAD);
    owners.put(process.pid(), CpuUse.MOCK);
    return owners;
  }

  @Override public void close() {
    Processes.stop(process, Duration.ofSeconds(10));
  }
}
