package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StaleArchivesTest {
  private static final Instant BUILT = Instant.parse("2026-12-08T00:00:00Z");

  @TempDir Path home;

  @Test
  void anArchiveOlderThanItsJarIsNamedOneMadeAfterItOrNoneAtAllIsNot() throws Exception {
    Path gateway = file("http-edge/target/sluice.jar", BUILT);
    file("http-edge/target/sluice.jsa", BUILT.plusSeconds(10));          // made by the build after the jar
    file("http-edge/target/sluice.agent.jsa", BUILT.minusSeconds(600));  // left by an earlier build
    file("mock-llm/target/mock-llm.jar", BUILT);                          // no archive: a start without one

    assertEquals(List.of("http-edge/target/sluice.agent.jsa"), BenchMain.staleArchives(home));

    Files.setLastModifiedTime(gateway, FileTime.from(BUILT.plusSeconds(60)));   // the jar alone rebuilt
    assertEquals(List.of("http-edge/target/sluice.jsa", "http-edge/target/sluice.agent.jsa"), BenchMain.staleArchives(home));
  }

  private Path file(String relative, Instant modified) throws Exception {
    Path p = home.resolve(relative);
    Files.createDirectories(p.getParent());
    Files.writeString(p, relative);
    Files.setLastModifiedTime(p, FileTime.from(modified));
    return p;
  }
}
