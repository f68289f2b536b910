package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * conf/jvm-jdk17.options reaches the gateway only on JDK 17 to 19: JDK 20 reworked the refinement they tune, and JDK 25
 * refuses to start with them, so a gateway given them there would not start at all.
 */
class GatewayJvmOptionsTest {
  private static final Path REPO = Path.of("..").toAbsolutePath().normalize();

  @Test void theBenchGivesTheJdk17OptionsOnlyToJdk17To19(@TempDir Path home) {
    Path conf = home.resolve("gateway.conf");
    String options = "@" + home.resolve("conf/jvm-jdk17.options");
    for (int feature : List.of(17, 18, 19)) {
      List<String> cmd = GatewayStack.command(home, conf, feature);
      assertEquals(2, cmd.indexOf(options), "right after conf/jvm.options, where bin/sluice puts it: " + cmd);
    }
    for (int feature : List.of(20, 21, 25)) {
      List<String> cmd = GatewayStack.command(home, conf, feature);
      assertTrue(cmd.stream().noneMatch(a -> a.contains("jvm-jdk17")), feature + ": " + cmd);
    }
  }

  @Test void theLauncherReadsTheJdksReleaseFile(@TempDir Path tmp) throws Exception {
    Path home = tmp.resolve("sluice");
    Files.createDirectories(home.resolve("bin"));
    Files.createDirectories(home.resolve("http-edge/target"));
    Files.copy(REPO.resolve("bin/sluice"), home.resolve("bin/sluice"), StandardCopyOption.COPY_ATTRIBUTES);
    Files.writeString(home.resolve("http-edge/target/sluice.jar"), "never run: the stand-in java only prints its arguments");
    Map<String, Boolean> expected = new LinkedHashMap<>();
    expected.put("17.0.15", true);
    expected.put("19.0.2", true);
    expected.put("20.0.1", false);
    expected.put("25.0.3", false);
    expected.put(null, false);                             // no release file: left out rather than guessed
    List<String> wrong = new ArrayList<>();
    for (Map.Entry<String, Boolean> c : expected.entrySet()) {
      Path jdk = Files.createDirectories(tmp.resolve("jdk-" + c.getKey() + "/bin"));
      Path java = jdk.resolve("java");
      Files.writeString(java, "#!/bin/sh\nprintf '%s\\n' \"$@\"\n");
      Files.setPosixFilePermissions(java, PosixFilePermissions.fromString("rwx------"));
      if (c.getKey() != null) {
        Files.writeString(jdk.getParent().resolve("release"), "IMPLEMENTOR=\"test\"\nJAVA_VERSION=\"" + c.getKey() + "\"\n");
      }
      ProcessBuilder pb = new ProcessBuilder(home.resolve("bin/sluice").toString(), "serve", "--config", "x.conf");
      pb.environment().put("JAVA_HOME", jdk.getParent().toString());
      pb.environment().put("SLUICE_HOME", home.toString());
      pb.environment().put("SLUICE_CDS", "off");
      pb.environment().remove("SLUICE_JAVA_OPTS");
      pb.redirectErrorStream(true);
      Process p = pb.start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
      assertTrue(p.waitFor(30, TimeUnit.SECONDS));
      assertEquals(0, p.exitValue(), out);
      List<String> args = out.lines().toList();
      boolean given = args.contains("@" + home.resolve("conf/jvm-jdk17.options"));
      if (given != c.getValue()) wrong.add("JAVA_VERSION " + c.getKey() + ": " + args);
      if (!args.subList(args.size() - 3, args.size()).equals(List.of("serve", "--config", "x.conf"))) wrong.add("args " + args);
    }
    assertTrue(wrong.isEmpty(), String.join("\n", wrong));
  }

  @Test void thisJdkStartsWithTheOptionsTheLaunchersGiveIt() throws Exception {
    int feature = Runtime.version().feature();
    List<String> cmd = new ArrayList<>(GatewayStack.command(REPO, REPO.resolve("unused.conf"), feature));
    cmd.subList(cmd.indexOf("-Dsluice.home=" + REPO), cmd.size()).clear();    // the options only, then ask for the flags
    cmd.removeIf(a -> a.startsWith("-XX:SharedArchiveFile") || a.startsWith("-Xlog:cds"));
    cmd.addAll(List.of("-XX:+PrintFlagsFinal", "-version"));
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS));
    assertEquals(0, p.exitValue(), out);
    if (feature < 20) {
      assertTrue(out.lines().anyMatch(l -> l.matches("\\s*bool G1UseAdaptiveConcRefinement\\s+= false\\s.*")), out);
      assertTrue(out.lines().anyMatch(l -> l.matches("\\s*size_t G1ConcRefinementGreenZone\\s+= 4096\\s.*")), out);
    }
  }
}
