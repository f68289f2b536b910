package sluice.agent;

import java.io.BufferedInputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.logging.FileHandler;
import java.util.logging.Logger;
import java.util.logging.SimpleFormatter;
import java.util.regex.Pattern;
import sluice.agent.config.AgentConfig;
import sluice.agent.sched.LocalScheduler;
import sluice.agent.sched.Scheduler;
import sluice.agent.wire.Banner;
import sluice.agent.wire.Codes;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;

/**
 * {@code sluice agent [--config FILE]}: serves the mux protocol on stdin/stdout until stdin ends.
 *
 * <p>Under SSH this is the key's forced command, so {@code SSH_ORIGINAL_COMMAND} (what the gateway asked to run) is
 * untrusted input: it must be exactly one of the agent's verbs, and it is never passed to a shell.
 */
public final class AgentMain {
  public static final String VERSION = "0.1.0";
  /** The only commands a gateway may ask for; anything else is refused before reading any config. */
  private static final Pattern VERBS = Pattern.compile("mux v1|version");
  static final int EXIT_USAGE = 2;

  private AgentMain() {}

  public static void main(String[] args) {
    // Stdout carries the protocol: keep the raw descriptor and send anything printed by accident to stderr instead.
    OutputStream protocolOut = new FileOutputStream(FileDescriptor.out);
    PrintStream err = System.err;
    System.setOut(err);
    System.exit(run(args, System.getenv(), protocolOut, err));
  }

  static int run(String[] args, java.util.Map<String, String> env, OutputStream protocolOut, PrintStream err) {
    String verb = env.get("SSH_ORIGINAL_COMMAND");
    if (verb == null) verb = "mux v1";
    if (!VERBS.matcher(verb).matches()) {
      err.println("sluice-agent: refused command (allowed: 'mux v1', 'version')");
      return EXIT_USAGE;
    }
    Path configFile = null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--config" -> {
          if (i + 1 >= args.length) return usage(err, "--config needs a file");
          configFile = Path.of(args[++i]);
        }
        case "--version" -> verb = "version";
        case "--help", "-h" -> {
          usage(err, null);
          return 0;
        }
        default -> {
          return usage(err, "unknown argument: " + args[i]);
        }
      }
    }
    if (verb.equals("version")) {
      try {
        protocolOut.write(("sluice-agent " + VERSION + " protocol mux/1\n").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        protocolOut.flush();
      } catch (IOException e) {
        return 1;
      }
      return 0;
    }
    if (configFile == null && env.get("SLUICE_AGENT_CONFIG") != null) configFile = Path.of(env.get("SLUICE_AGENT_CONFIG"));
    if (configFile == null) return usage(err, "no config: pass --config FILE or set SLUICE_AGENT_CONFIG");

    AgentConfig config;
    try {
      config = AgentConfig.load(configFile);
      Files.createDirectories(config.stateDir());
      configureLogging(config);
    } catch (AgentConfig.ConfigError | IOException e) {
      err.println("sluice-agent: " + e.getMessage());
      return EXIT_USAGE;
    }
    Logger log = Logger.getLogger("sluice.agent");
    Scheduler scheduler;
    if (config.scheduler() == AgentConfig.SchedulerKind.LOCAL) {
      scheduler = new LocalScheduler(config.stateDir(), config.local(), LocalScheduler.defaultRunnerCommand(), Clock.systemUTC());
    } else {
      err.println("sluice-agent: scheduler 'slurm' is not available in this version");
      return EXIT_USAGE;
    }

    ExecutorService workers = Executors.newCachedThreadPool(daemonThreads());
    Agent agent = new Agent(config, scheduler, workers);
    Limits limits = new Limits(Limits.DEFAULT.maxDataFrame(), Limits.DEFAULT.maxHeadBytes(), config.maxStreams(),
        Math.max(config.streamWindow(), Limits.DEFAULT.maxDataFrame()), 0);
    try {
      Banner.write(protocolOut);
    } catch (IOException e) {
      return 1;
    }
    MuxSession session = MuxSession.server(new BufferedInputStream(System.in, 64 * 1024), protocolOut, limits,
        "sluice-agent/" + VERSION, agent::accept).start("agent");
    log.info(() -> "agent " + VERSION + " serving mux/1 with " + config.services().size() + " services, pid "
        + ProcessHandle.current().pid());
    Messages.Problem end = session.closed().join();
    log.info(() -> "session ended: " + end.code() + " " + end.message());
    workers.shutdownNow();                          // aborts upstream requests still running
    return end.code().equals(Codes.PROTOCOL_ERROR) ? 1 : 0;
  }

  private static int usage(PrintStream err, String problem) {
    if (problem != null) err.println("sluice-agent: " + problem);
    err.println("usage: sluice agent [--config FILE] [--version]");
    err.println("  Serves the Sluice mux protocol on stdin/stdout. Under SSH, SSH_ORIGINAL_COMMAND must be 'mux v1' or 'version'.");
    return problem == null ? 0 : EXIT_USAGE;
  }

  private static void configureLogging(AgentConfig config) throws IOException {
    Files.createDirectories(config.logFile().toAbsolutePath().getParent());
    Logger root = Logger.getLogger("");
    for (var h : root.getHandlers()) root.removeHandler(h);   // the console handler would write to stderr per record
    // Read by SimpleFormatter when it is created, so it must be set first.
    System.setProperty("java.util.logging.SimpleFormatter.format", "%1$tFT%1$tT.%1$tL %4$s %3$s: %5$s%6$s%n");
    // One file, appended across sessions (count 1 keeps the configured name; JUL would otherwise add ".0").
    FileHandler file = new FileHandler(config.logFile().toString(), 0, 1, true);
    file.setFormatter(new SimpleFormatter());
    root.addHandler(file);
    root.setLevel(config.logLevel());
    file.setLevel(config.logLevel());
  }

  private static java.util.concurrent.ThreadFactory daemonThreads() {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, "agent-worker-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
