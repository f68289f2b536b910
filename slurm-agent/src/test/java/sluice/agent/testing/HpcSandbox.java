package sluice.agent.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.TimeUnit;

/**
 * The real Slurm cluster and OpenSSH server started by {@code bin/hpc-sandbox} (see its header), as the tests see it:
 * where sshd listens, the gateway's key, the login node's folder and the Slurm config. Tests named {@code *HpcIT} need
 * it; {@code bin/sluice test} starts it (as root) and passes its folder in {@code SLUICE_HPC_SANDBOX}. Without it they
 * fail with a message saying so: they are never silently skipped.
 */
public final class HpcSandbox {
  private final Properties env;

  private HpcSandbox(Properties env) {
    this.env = env;
  }

  public static HpcSandbox require() {
    String dir = System.getenv("SLUICE_HPC_SANDBOX");
    if (dir == null || dir.isBlank()) {
      throw new AssertionError("this test needs the real Slurm + sshd sandbox: run it through 'bin/sluice test' as root "
          + "(or start 'bin/hpc-sandbox start' and set SLUICE_HPC_SANDBOX), or exclude it with 'bin/sluice test --no-hpc'");
    }
    Properties p = new Properties();
    try (InputStream in = Files.newInputStream(Path.of(dir, "sandbox.env"))) {
      p.load(in);
    } catch (IOException e) {
      throw new AssertionError("cannot read " + dir + "/sandbox.env: " + e.getMessage(), e);
    }
    return new HpcSandbox(p);
  }

  public String get(String key) {
    String v = env.getProperty(key);
    if (v == null) throw new AssertionError("sandbox.env has no " + key);
    return v;
  }

  public Path dir() { return Path.of(get("SANDBOX_DIR")); }
  public String sshHost() { return get("SSH_HOST"); }
  public int sshPort() { return Integer.parseInt(get("SSH_PORT")); }
  public String sshUser() { return get("SSH_USER"); }
  public Path sshKey() { return Path.of(get("SSH_KEY")); }
  public Path knownHosts() { return Path.of(get("KNOWN_HOSTS")); }
  /** The sandbox host key's {@code SHA256:…} fingerprint. */
  public String hostFingerprint() { return get("HOST_FINGERPRINT"); }
  public Path slurmConf() { return Path.of(get("SLURM_CONF")); }
  public Path loginDir() { return Path.of(get("LOGIN_DIR")); }
  public Path agentLog() { return Path.of(get("AGENT_LOG")); }
  public Path sshdLog() { return Path.of(get("SSHD_LOG")); }

  /**
   * When the login node's agents ran squeue, oldest first: {@code bin/hpc-sandbox} gives the agent a squeue wrapper
   * that appends one line per call (epoch millis, pid) to {@code SQUEUE_CALLS}. Count the calls in a window with
   * {@code calls.stream().filter(t -> !t.isBefore(from) && t.isBefore(to)).count()}.
   */
  public List<Instant> squeueCalls() throws IOException {
    Path f = Path.of(get("SQUEUE_CALLS"));
    if (!Files.exists(f)) return List.of();                   // no squeue yet
    List<Instant> out = new ArrayList<>();
    for (String line : Files.readAllLines(f)) {
      String[] fields = line.strip().split("\\s+");
      if (fields.length != 2 || !fields[0].matches("[0-9]{1,15}")) {
        throw new AssertionError(f + " has a malformed line (want 'epoch-millis pid'): " + line);
      }
      out.add(Instant.ofEpochMilli(Long.parseLong(fields[0])));
    }
    out.sort(null);
    return out;
  }

  /** Installs the freshly built agent, mock-llm jar and job script on the "login node" ({@code bin/hpc-sandbox install}). */
  public void installAgent(Path repoRoot) throws IOException, InterruptedException {
    run(Map.of(), List.of(repoRoot.resolve("bin/hpc-sandbox").toString(), "install", dir().toString()));
  }

  /** Runs a Slurm client command (squeue, scancel, …) against the sandbox cluster; returns its stdout. */
  public String slurm(String... command) throws IOException, InterruptedException {
    return run(Map.of("SLURM_CONF", slurmConf().toString()), List.of(command));
  }

  /**
   * Runs plain OpenSSH {@code ssh} with the gateway's key and strict host checking; {@code extra} goes before the
   * destination (options) and {@code remote} after it (the command asked for). Returns exit code and output.
   */
  public Result ssh(List<String> extra, String... remote) throws IOException, InterruptedException {
    List<String> cmd = sshCommand(extra, remote);
    Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null"))).start();
    byte[] out = p.getInputStream().readAllBytes();
    byte[] err = p.getErrorStream().readAllBytes();
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("ssh did not finish: " + cmd);
    }
    return new Result(p.exitValue(), new String(out, java.nio.charset.StandardCharsets.UTF_8),
        new String(err, java.nio.charset.StandardCharsets.UTF_8));
  }

  /** The argv of {@link #ssh}, for tests that keep the connection open (a mux session over {@code ssh host 'mux v1'}). */
  public List<String> sshCommand(List<String> extra, String... remote) {
    List<String> cmd = new ArrayList<>(List.of("ssh", "-i", sshKey().toString(), "-p", Integer.toString(sshPort()),
        "-o", "UserKnownHostsFile=" + knownHosts(), "-o", "StrictHostKeyChecking=yes", "-o", "BatchMode=yes",
        "-o", "IdentitiesOnly=yes", "-o", "ConnectTimeout=10"));
    cmd.addAll(extra);
    cmd.add(sshUser() + "@" + sshHost());
    cmd.addAll(List.of(remote));
    return cmd;
  }

  public record Result(int exit, String stdout, String stderr) {}

  /** The sshd processes serving connections (every descendant of the listener named sshd; the agents are not). */
  public List<ProcessHandle> sshConnectionProcesses() throws IOException {
    long listener = Long.parseLong(Files.readString(Path.of(get("SSHD_PID_FILE"))).trim());
    List<ProcessHandle> out = new ArrayList<>();
    ProcessHandle.of(listener).orElseThrow(() -> new AssertionError("sshd is not running"))
        .descendants().forEach(p -> {
          try {
            if (Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).startsWith("sshd")) out.add(p);
          } catch (IOException e) {
            // gone already
          }
        });
    if (out.isEmpty()) throw new AssertionError("no sshd connection process found under " + listener);
    return out;
  }

  /** Sends {@code sig} (STOP, CONT, KILL, ...) to the processes. */
  public static void signal(String sig, List<ProcessHandle> processes) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of("kill", "-" + sig));
    processes.forEach(p -> cmd.add(Long.toString(p.pid())));
    run(Map.of(), cmd);
  }

  /** Restarts the sandbox's sshd (listener and every connection it serves). */
  public void restartSshd(Path repoRoot) throws IOException, InterruptedException {
    run(Map.of(), List.of(repoRoot.resolve("bin/hpc-sandbox").toString(), "restart-sshd", dir().toString()));
  }

  /** Stops slurmctld (SIGTERM, as an admin's restart or a crash would take it away) and waits until it is gone. */
  public void stopSlurmctld() throws IOException, InterruptedException {
    Path pidFile = slurmConf().getParent().resolve("slurmctld.pid");
    long pid = Long.parseLong(Files.readString(pidFile).trim());
    ProcessHandle ctld = ProcessHandle.of(pid).orElseThrow(() -> new AssertionError("slurmctld is not running"));
    run(Map.of(), List.of("kill", "-TERM", Long.toString(pid)));
    if (!ctld.onExit().toCompletableFuture().completeOnTimeout(null, 60, TimeUnit.SECONDS).thenApply(p -> p != null).join()) {
      throw new AssertionError("slurmctld did not stop");
    }
  }

  /** Starts slurmctld again with the sandbox's config; it recovers its jobs from its state folder. */
  public void startSlurmctld() throws IOException, InterruptedException {
    run(Map.of("SLURM_CONF", slurmConf().toString()), List.of("/usr/sbin/slurmctld", "-f", slurmConf().toString()));
  }

  private static String run(Map<String, String> extraEnv, List<String> command) throws IOException, InterruptedException {
    ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
    pb.environment().putAll(extraEnv);
    Process p = pb.start();
    String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
    if (!p.waitFor(60, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IOException("timed out: " + command);
    }
    if (p.exitValue() != 0) throw new IOException(command + " exited with " + p.exitValue() + ": " + out);
    return out;
  }

  /** The repository's root, from a module's working directory during the build. */
  public static Path repoRoot() {
    Path here = Path.of("").toAbsolutePath();
    for (Path p = here; p != null; p = p.getParent()) {
      if (Files.isRegularFile(p.resolve("bin/sluice"))) return p;
    }
    throw new AssertionError("cannot find the repository root above " + here);
  }
}
