package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.jar.JarEntry;
import java.util.jar.JarOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

@Timeout(120)
class ClassDataSharingTest {
  @TempDir Path dir;

  @Test void aJarWithItsArchiveBesideItRunsWithTheArchive() throws IOException {
    Path jar = Files.createFile(dir.resolve("sluice.jar"));
    Path archive = Files.createFile(dir.resolve("sluice.agent.jsa"));
    assertEquals(List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds*=off"),
        ClassDataSharing.options(jar.toString(), "agent", Map.of()));
  }

  @Test void noArchiveNoOptions() throws IOException {
    Path jar = Files.createFile(dir.resolve("sluice.jar"));
    Files.createFile(dir.resolve("sluice.runner.jsa"));          // another role's archive is not this one's
    assertEquals(List.of(), ClassDataSharing.options(jar.toString(), "agent", Map.of()));
  }

  @Test void offTurnsItOff() throws IOException {
    Path jar = Files.createFile(dir.resolve("sluice.jar"));
    Files.createFile(dir.resolve("sluice.agent.jsa"));
    assertEquals(List.of(), ClassDataSharing.options(jar.toString(), "agent", Map.of("SLUICE_CDS", "off")));
  }

  @Test void theTrainingRunWritesTheArchiveAtExit() {
    Path jar = dir.resolve("sluice.jar");
    assertEquals(List.of("-XX:ArchiveClassesAtExit=" + dir.resolve("sluice.runner.jsa"), "-Xlog:cds*=off"),
        ClassDataSharing.options(jar.toString(), "runner", Map.of("SLUICE_CDS", "dump")));
  }

  @Test void classFoldersAndLongClassPathsHaveNoArchive() throws IOException {
    Files.createFile(dir.resolve("classes.agent.jsa"));
    Files.createFile(dir.resolve("a.agent.jsa"));
    assertEquals(List.of(), ClassDataSharing.options(dir.resolve("classes").toString(), "agent", Map.of()));
    assertEquals(List.of(), ClassDataSharing.options(dir.resolve("a.jar") + java.io.File.pathSeparator
        + dir.resolve("b.jar"), "agent", Map.of()));
  }

  /**
   * Real JVMs: the archive the training run writes is used, and one that no longer fits its jar (rebuilt, or another
   * JDK) or is not an archive at all changes nothing a user or the gateway sees: the program starts and stdout, the
   * agent's protocol channel, carries only what the program wrote.
   */
  @Test void anArchiveThatDoesNotFitNeverStopsAStartNorWritesToStdout() throws Exception {
    Path jar = helloJar(dir.resolve("hello.jar"));
    Path archive = dir.resolve("hello.agent.jsa");

    Run training = run(jar, ClassDataSharing.options(jar.toString(), "agent", Map.of("SLUICE_CDS", "dump")));
    assertEquals(new Run(0, "hello\n", ""), training);
    assertTrue(Files.size(archive) > 0, "the training run wrote the archive");

    List<String> use = ClassDataSharing.options(jar.toString(), "agent", Map.of());
    List<String> withClassLog = new ArrayList<>(use);
    withClassLog.add("-Xlog:class+load=info:file=" + dir.resolve("classes.log"));
    assertEquals(new Run(0, "hello\n", ""), run(jar, withClassLog));
    assertTrue(Files.readAllLines(dir.resolve("classes.log")).stream()
        .anyMatch(l -> l.contains(Hello.class.getName() + " source: shared objects file")), "Hello came from the archive");

    Files.setLastModifiedTime(jar, FileTime.from(Instant.now().plusSeconds(60)));   // the jar was rebuilt
    assertEquals(new Run(0, "hello\n", ""), run(jar, use));

    Files.delete(archive);
    Files.write(archive, "not an archive".repeat(1000).getBytes(StandardCharsets.US_ASCII));
    assertEquals(new Run(0, "hello\n", ""), run(jar, use));
  }

  /** The program of {@link #anArchiveThatDoesNotFitNeverStopsAStartNorWritesToStdout}. */
  static final class Hello {
    public static void main(String[] args) {
      System.out.println("hello");
    }
  }

  private record Run(int exit, String stdout, String stderr) {}

  private static Path helloJar(Path jar) throws IOException {
    String entry = Hello.class.getName().replace('.', '/') + ".class";
    try (OutputStream out = Files.newOutputStream(jar); JarOutputStream j = new JarOutputStream(out);
         InputStream in = Hello.class.getClassLoader().getResourceAsStream(entry)) {
      j.putNextEntry(new JarEntry(entry));
      in.transferTo(j);
      j.closeEntry();
    }
    return jar;
  }

  private Run run(Path jar, List<String> options) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx64m", "-XX:+UseSerialGC"));
    cmd.addAll(options);
    cmd.addAll(List.of("-cp", jar.toString(), Hello.class.getName()));
    Path out = dir.resolve("stdout");
    Path err = dir.resolve("stderr");
    Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the JVM exited");
    return new Run(p.exitValue(), Files.readString(out), Files.readString(err));
  }
}
