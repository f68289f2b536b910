package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigFactory;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.HpcSandbox;
import sluice.core.service.ServiceStatus;

/**
 * slurmctld down for a while: running jobs go on without it, so the service keeps answering, loses track of nothing
 * and submits nothing while it cannot list its jobs; once slurmctld is back, the same job is still the replica.
 */
@Timeout(300)
class SlurmctldOutageHpcIT {
  static final String DEPLOYMENT = "outage-it-" + Long.toHexString(System.nanoTime() & 0xffffff);
  static HpcSandbox sandbox;
  static Gateway gateway;
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll static void start() throws Exception {
    sandbox = HpcSandbox.require();
    sandbox.installAgent(HpcSandbox.repoRoot());
    Path dir = Files.createTempDirectory("sluice-outage-it");
    gateway = Gateway.start(ConfigFactory.load(ConfigFactory.parseString("""
        sluice {
          deployment = "%s"
          data-dir = "%s"
          http.port = 0
          management.port = %d
          auth.api-keys = [{ name = "test", key = "%s" }]
          readiness.probe-interval = 300ms
          %s
          services.mock-llm { cluster = hpc, health-interval = 1s }
        }
        """.formatted(DEPLOYMENT, dir.resolve("data"), EmbeddedStack.freePort(), EmbeddedStack.API_KEY,
        EmbeddedStack.hpcCluster(sandbox, true)))
        .withFallback(ConfigFactory.parseResourcesAnySyntax("application"))));
  }

  @AfterAll static void stop() throws Exception {
    if (sandbox != null && !slurmctldRunning()) sandbox.startSlurmctld();
    if (gateway != null) gateway.close();
    if (sandbox != null) for (String id : jobs()) sandbox.slurm("scancel", id);
  }

  static boolean slurmctldRunning() throws Exception {
    Path pid = sandbox.slurmConf().getParent().resolve("slurmctld.pid");
    return Files.exists(pid) && ProcessHandle.of(Long.parseLong(Files.readString(pid).trim())).map(ProcessHandle::isAlive).orElse(false);
  }

  /** This deployment's live jobs as squeue lists them. */
  static List<String> jobs() throws Exception {
    List<String> out = new ArrayList<>();
    for (String line : sandbox.slurm("squeue", "-h", "-u", sandbox.sshUser(), "-o", "%i|%k").split("\n")) {
      if (line.contains("tag=" + DEPLOYMENT + ".")) out.add(line.substring(0, line.indexOf('|')).trim());
    }
    return out;
  }

  @Test void aServiceOutlivesAnOutageOfSlurmctldWithItsJob() throws Exception {
    ServiceStatus before = EmbeddedStack.awaitReady(gateway, "mock-llm");
    String job = before.replicas().get(0).jobId();
    assertEquals(List.of(job), jobs());

    sandbox.stopSlurmctld();
    int answered = 0;
    List<String> failures = new ArrayList<>();
    // Not a wait for a state but the outage itself: slurmctld stays down for a fixed 25 s (many failed job listings),
    // while a request goes out every 250 ms and each must succeed.
    long until = System.nanoTime() + Duration.ofSeconds(25).toNanos();
    while (System.nanoTime() < until) {
      String problem = complete();
      if (problem == null) answered++;
      else failures.add(problem);
      Thread.sleep(250);
    }
    ServiceStatus during = gateway.services().status("mock-llm").toCompletableFuture().get();
    sandbox.startSlurmctld();

    assertEquals(List.of(), failures, "requests kept succeeding while slurmctld was down (" + answered + " answered)");
    assertTrue(during.lastError() != null && during.lastError().contains("cannot list jobs"), "the outage shows: " + during);
    assertEquals(List.of(job), during.replicas().stream().map(ServiceStatus.Replica::jobId).toList(), "nothing forgotten or added");
    ServiceStatus after = EmbeddedStack.awaitStatus(gateway, "mock-llm", s -> s.lastError() == null && "ready".equals(s.availability()));
    assertEquals(List.of(job), after.replicas().stream().map(ServiceStatus.Replica::jobId).toList());
    assertEquals(List.of(job), jobs(), "squeue: the same job, no second one");
    assertEquals(null, complete());
    System.out.printf("MEASURED slurmctld outage: 25 s down, %d requests answered, 0 failed, same job %s%n", answered, job);
  }

  private static String complete() {
    try {
      HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + "/v1/chat/completions"))
          .header("Authorization", "Bearer " + EmbeddedStack.API_KEY).timeout(Duration.ofSeconds(60))
          .POST(HttpRequest.BodyPublishers.ofString(
              "{\"model\":\"mock-llm\",\"max_tokens\":4,\"messages\":[{\"role\":\"user\",\"content\":\"hi\"}]}")).build(),
          HttpResponse.BodyHandlers.ofString());
      return r.statusCode() == 200 ? null : r.statusCode() + " " + r.body();
    } catch (Exception e) {
      return e.toString();
    }
  }
}
