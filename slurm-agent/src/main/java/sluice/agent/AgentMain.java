package sluice.agent;

import java.io.BufferedInputStream;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.text.MessageFormat;
import java.time.Clock;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ForkJoinPool;
import java.util.logging.ErrorManager;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import java.util.regex.Pattern;
import sluice.agent.config.AgentConfig;
import sluice.agent.sched.LocalScheduler;
import sluice.agent.sched.Scheduler;
import sluice.agent.sched.SlurmScheduler;
import sluice.agent.wire.Banner;
import sluice.agent.wire.ProblemCode;
import sluice.agent.wire.Limits;
import sluice.agent.wire.Messages;
import sluice.agent.wire.MuxSession;

/**
 * {@code sluice agent [--ssh] [--config FILE] [--state-dir DIR]}: serves the mux protocol on stdin/stdout until stdin ends.
 *
 * <p>Under SSH this is the key's forced command, started with {@code --ssh}, so {@code SSH_ORIGINAL_COMMAND} (what the
 * client asked to run) is untrusted input: it must be exactly one of the agent's verbs, and it is never passed to a
 * shell. An unset one means the client asked for a shell (or a bare {@code ssh host}), which is refused too.
 */
public final class AgentMain {
  public static final String VERSION = "0.1.0";
  /** The only commands a gateway may ask for: whole-string matches, no trimming, no arguments. */
  private static final Pattern VERBS = Pattern.compile("mux v1|version");
  static final int EXIT_USAGE = 2;
  /** How much of a refused command the log keeps. */
  static final int MAX_LOGGED_COMMAND = 200;

  private AgentMain() {}

  /**
   * The JDK HTTP client's read buffer per connection (its default is 16 KiB). Every open stream holds one while it
   * waits for the model server. With 10,000 streams open, a heap histogram of the agent (the bench) showed 159 MB of
   * byte arrays, about 16 KiB per stream, in a 256 MiB heap, and the agent ran out of memory. Model servers write an SSE event at a time, far
   * below this; a fast stream is read in more pieces, which the gateway joins again.
   */
  static final String HTTP_READ_BUFFER = "4096";

  /**
   * At most this many idle connections to model servers stay open for reuse. The JDK 17 client keeps every connection
   * of a burst (its pool has no bound) for 20 minutes: about 40 s after 2,000 streams at once through the bench's gateway
   * config the agent still held 1,100 idle connections to mock-llm, and mock-llm as many, with 30 MB of the agent's heap
   * in use after a full collection (14.7 MB of it byte arrays). At that rate 10,000 streams would leave about 130 MB in
   * a 320 MiB heap (arithmetic), for G1 to mark again and again. Past this many, a connection is closed when its
   * exchange ends instead of waiting in the pool.
   */
  static final String HTTP_POOL_SIZE = "256";

  /** Seconds an idle connection to a model server is kept for reuse (the JDK 17 client's default is 1,200). */
  static final String HTTP_KEEP_ALIVE_SECONDS = "30";

  public static void main(String[] args) {
    httpClientDefaults();
    atLeastTwoCommonPoolThreads();
    // Stdout carries the protocol: keep the raw descriptor and send anything printed by accident to stderr instead.
    OutputStream protocolOut = new FileOutputStream(FileDescriptor.out);
    PrintStream err = System.err;
    System.setOut(err);
    System.exit(run(args, System.getenv(), protocolOut, err));
  }

  /**
   * The HTTP client's settings above. Set before the client's classes read them (they do once); each of them given on
   * the command line ({@code -Djdk.httpclient.…}) still wins.
   */
  static void httpClientDefaults() {
    for (String[] p : new String[][] {{"jdk.httpclient.bufsize", HTTP_READ_BUFFER},
        {"jdk.httpclient.connectionPoolSize", HTTP_POOL_SIZE}, {"jdk.httpclient.keepalive.timeout", HTTP_KEEP_ALIVE_SECONDS}}) {
      if (System.getProperty(p[0]) == null) System.setProperty(p[0], p[1]);
    }
  }

  /**
   * The HTTP client hands every response it completes to {@code CompletableFuture}'s default executor, which on a
   * machine with fewer than three cores is a new thread per task: 12,965 threads started while the agent carried the
   * bench's 10,000 slow streams (JFR, {@code jdk.ThreadStart}). With two common-pool threads it is that pool instead.
   * The command line's {@code -Djava.util.concurrent.ForkJoinPool.common.parallelism} still wins; effective only
   * before the pool is first used. The gateway does the same ({@code sluice.core.Stages}).
   *
   * @return the common pool's parallelism now
   */
  static int atLeastTwoCommonPoolThreads() {
    String property = "java.util.concurrent.ForkJoinPool.common.parallelism";
    if (System.getProperty(property) == null && Runtime.getRuntime().availableProcessors() < 3) {
      System.setProperty(property, "2");
    }
    return ForkJoinPool.getCommonPoolParallelism();
  }

  static int run(String[] args, Map<String, String> env, OutputStream protocolOut, PrintStream err) {
    Path configFile = null;
    Path stateDir = null;
    boolean ssh = false;
    boolean versionFlag = false;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--config" -> {
          if (i + 1 >= args.length) return usage(err, "--config needs a file");
          configFile = Path.of(args[++i]);
        }
        case "--state-dir" -> {
          if (i + 1 >= args.length) return usage(err, "--state-dir needs a folder");
          stateDir = Path.of(args[++i]);
        }
        case "--ssh" -> ssh = true;
        case "--version" -> versionFlag = true;
        case "--help", "-h" -> {
          usage(err, null);
          return 0;
        }
        default -> {
          return usage(err, "unknown argument: " + args[i]);
        }
      }
    }
    if (configFile == null && env.get("SLUICE_AGENT_CONFIG") != null) configFile = Path.of(env.get("SLUICE_AGENT_CONFIG"));

    String command = env.get("SSH_ORIGINAL_COMMAND");
    // As a child process of the gateway (no --ssh) there is no client command: serve the protocol.
    if (command == null && !ssh) command = "mux v1";
    if (command == null || !VERBS.matcher(command).matches()) {
      refuse(command, configFile, env, err);
      return EXIT_USAGE;
    }
    if (versionFlag || command.equals("version")) {
      try {
        protocolOut.write(("sluice-agent " + VERSION + " protocol mux/1\n").getBytes(StandardCharsets.US_ASCII));
        protocolOut.flush();
      } catch (IOException e) {
        return 1;
      }
      return 0;
    }
    if (configFile == null) return usage(err, "no config: pass --config FILE or set SLUICE_AGENT_CONFIG");

    AgentConfig config;
    try {
      config = AgentConfig.load(configFile, Optional.ofNullable(stateDir));
      configureLogging(config);
    } catch (AgentConfig.ConfigError | IOException e) {
      err.println("sluice-agent: " + e.getMessage());
      return EXIT_USAGE;
    }
    Logger log = Logger.getLogger("sluice.agent");
    Scheduler scheduler;
    try {
      scheduler = config.scheduler() == AgentConfig.SchedulerKind.LOCAL
          ? new LocalScheduler(config.stateDir(), config.local(), LocalScheduler.defaultRunnerCommand(), Clock.systemUTC())
          : new SlurmScheduler(config.stateDir(), config.slurm(), config.services(), Map.of(), Clock.systemUTC());
    } catch (UncheckedIOException e) {
      log.severe("cannot start the scheduler: " + e.getMessage());
      err.println("sluice-agent: " + e.getMessage());
      return EXIT_USAGE;
    }

    Agent agent = new Agent(config, scheduler);
    Limits limits = new Limits(Limits.DEFAULT.maxDataFrame(), Limits.DEFAULT.maxHeadBytes(), config.maxStreams(),
        Math.max(config.streamWindow(), Limits.DEFAULT.maxDataFrame()), 0);
    try {
      Banner.write(protocolOut);
    } catch (IOException e) {
      return 1;
    }
    MuxSession session = MuxSession.server(new BufferedInputStream(System.in, 64 * 1024), protocolOut, limits,
        "sluice-agent/" + VERSION, agent::accept).start("agent");
    String from = ssh ? " over SSH from " + client(env) : "";
    log.info(() -> "agent " + VERSION + " serving mux/1 with " + config.scheduler().name().toLowerCase(Locale.ROOT)
        + " scheduler and " + config.services().size() + " services" + from);
    Messages.Problem end = session.closed().join();
    log.info(() -> "session ended: " + end.code() + " " + end.message());
    try {
      agent.awaitChanges(config.slurm().commandTimeout().plusSeconds(5));   // a submit in flight completes
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    agent.close();                                  // aborts upstream requests still running
    return end.code() == ProblemCode.PROTOCOL_ERROR ? 1 : 0;
  }

  /**
   * Says no on stderr (the client sees it) and, when the config can be read, in the agent's log with the reason: an
   * operator asking "why did that login do nothing" finds the answer there. The command is escaped and shortened
   * before it is logged, since the client chose every byte of it.
   */
  private static void refuse(String command, Path configFile, Map<String, String> env, PrintStream err) {
    String why = command == null
        ? "no command (a shell or pty session, or a bare 'ssh host')"
        : "not an agent command: \"" + printable(command) + "\"";
    err.println("sluice-agent: refused " + (command == null ? "a session without a command" : "command")
        + " (allowed: 'mux v1', 'version')");
    if (configFile == null) return;
    try {
      configureLogging(AgentConfig.load(configFile));
      Logger.getLogger("sluice.agent").warning("refused SSH session from " + client(env) + ": " + why);
    } catch (AgentConfig.ConfigError | IOException e) {
      err.println("sluice-agent: and the config cannot be read: " + e.getMessage());
    }
  }

  /** Control characters, backslashes and non-ASCII escaped, cut to {@link #MAX_LOGGED_COMMAND} characters. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder();
    for (int i = 0; i < s.length() && b.length() < MAX_LOGGED_COMMAND; i++) {
      char c = s.charAt(i);
      if (c == '\\') b.append("\\\\");
      else if (c == '\n') b.append("\\n");
      else if (c == '\r') b.append("\\r");
      else if (c == '\t') b.append("\\t");
      else if (c < 0x20 || c >= 0x7f) b.append(String.format("\\u%04x", (int) c));
      else b.append(c);
    }
    if (b.length() >= MAX_LOGGED_COMMAND) {
      b.setLength(MAX_LOGGED_COMMAND);
      b.append("... (").append(s.length()).append(" chars)");
    }
    return b.toString();
  }

  /** The client's address and port from sshd's SSH_CONNECTION, if it looks like one. */
  private static String client(Map<String, String> env) {
    String c = env.get("SSH_CONNECTION");
    if (c == null) return "a local parent process";
    String[] parts = c.split(" ");
    return parts.length == 4 && parts[0].matches("[0-9A-Fa-f:.]{1,45}") && parts[1].matches("[0-9]{1,5}")
        ? parts[0] + " port " + parts[1] : "an unknown client";
  }

  private static int usage(PrintStream err, String problem) {
    if (problem != null) err.println("sluice-agent: " + problem);
    err.println("usage: sluice agent [--ssh] [--config FILE] [--state-dir DIR] [--version]");
    err.println("  Serves the Sluice mux protocol on stdin/stdout until stdin ends.");
    err.println("  --ssh     run as an authorized_keys forced command: SSH_ORIGINAL_COMMAND must be exactly 'mux v1'");
    err.println("            (serve the protocol) or 'version'; anything else, or none, is refused and logged.");
    err.println("            Without --ssh an unset SSH_ORIGINAL_COMMAND means 'mux v1' (the gateway's child process).");
    err.println("  --config  the agent's JSON config (default: $SLUICE_AGENT_CONFIG)");
    err.println("  --state-dir  instead of the config's state-dir (jobs, locks, the default log file)");
    return problem == null ? 0 : EXIT_USAGE;
  }

  /**
   * Appends to the configured log file. Several agents (one per SSH channel) write to the same file at once, so each
   * record is one append-mode write of its own; JUL's FileHandler would lock the file and send the others to
   * {@code agent.log.1}, {@code .2}, ...
   */
  static synchronized void configureLogging(AgentConfig config) throws IOException {
    Files.createDirectories(config.stateDir());
    Files.createDirectories(config.logFile().toAbsolutePath().getParent());
    Logger root = Logger.getLogger("");
    for (Handler h : root.getHandlers()) {         // the console handler would write to stderr per record
      root.removeHandler(h);
      h.close();
    }
    AppendHandler file = new AppendHandler(config.logFile());
    root.addHandler(file);
    // log-level is for the agent's own loggers; FINE on the root would also switch on the JDK HttpClient's debug log.
    Level level = config.logLevel();
    root.setLevel(level.intValue() < Level.INFO.intValue() ? Level.INFO : level);
    AGENT_LOGGER.setLevel(level);
    file.setLevel(level);
  }

  /** Held here because JUL keeps loggers only weakly: a collected logger would lose its level. */
  private static final Logger AGENT_LOGGER = Logger.getLogger("sluice");

  /** One line per record, {@code time level [pid] logger: message}, appended with a single write. */
  private static final class AppendHandler extends Handler {
    private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSS")
        .withZone(ZoneId.systemDefault());
    private final FileOutputStream out;
    private final long pid = ProcessHandle.current().pid();

    AppendHandler(Path file) throws IOException {
      this.out = new FileOutputStream(file.toFile(), true);
    }

    @Override public synchronized void publish(LogRecord r) {
      if (!isLoggable(r)) return;
      StringBuilder b = new StringBuilder(TIME.format(r.getInstant())).append(' ').append(r.getLevel().getName())
          .append(" [").append(pid).append("] ").append(r.getLoggerName()).append(": ");
      b.append(r.getParameters() == null ? r.getMessage() : MessageFormat.format(r.getMessage(), r.getParameters()));
      if (r.getThrown() != null) {
        StringWriter trace = new StringWriter();
        r.getThrown().printStackTrace(new PrintWriter(trace));
        b.append('\n').append(trace.toString().stripTrailing());
      }
      b.append('\n');
      try {
        out.write(b.toString().getBytes(StandardCharsets.UTF_8));
      } catch (IOException e) {
        reportError("cannot write the agent log", e, ErrorManager.WRITE_FAILURE);
      }
    }

    @Override public void flush() {}

    @Override public synchronized void close() {
      try {
        out.close();
      } catch (IOException e) {
        reportError("cannot close the agent log", e, ErrorManager.CLOSE_FAILURE);
      }
    }
  }
}
