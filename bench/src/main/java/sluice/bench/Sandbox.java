package sluice.bench;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;

/**
 * The real Slurm cluster and OpenSSH sshd that {@code bin/hpc-sandbox start} runs on loopback, as described by its
 * {@code sandbox.env}. The bench only reads it, installs the freshly built jars on its "login node" and cancels the
 * bench's own jobs.
 */
record Sandbox(Path dir, String sshHost, int sshPort, String user, Path key, Path knownHosts, Path slurmConf,
               Path loginDir, Path sshdPidFile) {

  static Sandbox load(Path dir) throws IOException {
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(dir.resolve("sandbox.env"))) {
      p.load(in);
    }
    return new Sandbox(dir, need(p, "SSH_HOST"), Integer.parseInt(need(p, "SSH_PORT")), need(p, "SSH_USER"),
        Path.of(need(p, "SSH_KEY")), Path.of(need(p, "KNOWN_HOSTS")), Path.of(need(p, "SLURM_CONF")),
        Path.of(need(p, "LOGIN_DIR")), Path.of(need(p, "SSHD_PID_FILE")));
  }

  private static String need(Properties p, String key) {
    String v = p.getProperty(key);
    if (v == null || v.isBlank()) throw new IllegalArgumentException("sandbox.env has no " + key);
    return v.trim();
  }

  /** Installs the freshly built agent, mock-llm jar and job script on the login node ({@code bin/hpc-sandbox install}). */
  void installJars(Path home) throws IOException {
    Process p = new ProcessBuilder(home.resolve("bin/hpc-sandbox").toString(), "install", dir.toString())
        .redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).trim();
    try {
      if (p.waitFor() != 0) throw new IOException("bin/hpc-sandbox install failed: " + out);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while installing on the sandbox", e);
    }
  }

  int uid() {
    String id = Processes.output(List.of("id", "-u", user), Map.of());
    if (!id.matches("\\d+")) throw new IllegalStateException("no such user on this machine: " + user);
    return Integer.parseInt(id);
  }

  long sshdListenerPid() {
    try {
      return Long.parseLong(Files.readString(sshdPidFile).trim());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /** The jobs of one gateway deployment (its tags start with "deployment."), as {id, Slurm comment}. */
  List<String[]> jobsOf(String deployment) {
    List<String[]> out = new ArrayList<>();
    String listing = Processes.output(List.of("squeue", "-h", "-u", user, "-o", "%i|%k"), slurmEnv());
    for (String line : listing.split("\n")) {
      String[] f = line.trim().split("\\|", 2);
      if (f.length == 2 && f[1].contains(" tag=" + deployment + ".")) out.add(f);
    }
    return out;
  }

  void cancel(String jobId) {
    Processes.output(List.of("scancel", jobId), slurmEnv());
  }

  private Map<String, String> slurmEnv() {
    return Map.of("SLURM_CONF", slurmConf.toString());
  }
}
