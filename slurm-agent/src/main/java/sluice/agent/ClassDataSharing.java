package sluice.agent;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Class-data sharing for the JVMs Sluice starts itself (the agent as the gateway's child, the local scheduler's job
 * runner): the build trains one archive per jar and role (bin/cds-archives), and these options map it, so the JVM
 * takes those classes parsed and verified instead of reading them from the jar. docs/operations.md "Fast start".
 *
 * <p>The JVM checks the archive itself (same JDK build, same jar path, size and modification time) and without a
 * valid one starts as if none had been named; {@link #QUIET} keeps that silent, since the JVM would print its warning
 * to stdout, which is the agent's protocol channel.
 */
public final class ClassDataSharing {
  /** {@code off}: never use an archive; {@code dump}: write each JVM's archive when it exits (the training run). */
  public static final String ENV = "SLUICE_CDS";
  static final String QUIET = "-Xlog:cds*=off";

  private ClassDataSharing() {}

  /** The JVM options that run {@code role} from {@code classPath} with its archive, as {@code SLUICE_CDS} asks. */
  public static List<String> options(String classPath, String role, Map<String, String> env) {
    Optional<Path> archive = archive(classPath, role);
    if (archive.isEmpty()) return List.of();
    return switch (env.getOrDefault(ENV, "")) {
      case "off" -> List.of();
      case "dump" -> List.of("-XX:ArchiveClassesAtExit=" + archive.get(), QUIET);
      default -> Files.isRegularFile(archive.get())
          ? List.of("-XX:SharedArchiveFile=" + archive.get(), QUIET) : List.of();
    };
  }

  /**
   * The archive beside the jar: {@code dir/sluice.jar} and role {@code agent} give {@code dir/sluice.agent.jsa}. None
   * for a class path of several entries or of class folders (tests, IDEs): only a packaged jar has one.
   */
  static Optional<Path> archive(String classPath, String role) {
    if (classPath == null || classPath.contains(File.pathSeparator) || !classPath.endsWith(".jar")) return Optional.empty();
    Path jar = Path.of(classPath).toAbsolutePath().normalize();
    String name = jar.getFileName().toString();
    return Optional.of(jar.resolveSibling(name.substring(0, name.length() - ".jar".length()) + "." + role + ".jsa"));
  }
}
