package sluice.bench;

import java.io.IOException;
import java.io.PrintStream;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import sluice.core.Stages;

/**
 * {@code bin/sluice bench}: measures requests/s, latency and CPU of short non-streaming chat completions on three
 * paths (direct to mock-llm, nginx in front of it, embedded gateway, gateway over SSH to real Slurm), prints a table and writes
 * docs/benchmarks.md. With {@code --lifecycle}, the replica lifecycle instead ({@link LifecycleBench}), written to
 * docs/benchmarks-lifecycle.md; with {@code --journal}, the journal on H2 and PostgreSQL ({@link JournalBench}), written
 * to docs/benchmarks-journal.md. See bench/README.md.
 */
public final class BenchMain {
  static final int EXIT_USAGE = 2;
  private static final String USAGE = """
      usage: bench [--quick] [--out FILE] [--home DIR] [--sandbox DIR] [--paths direct,nginx,embedded,limited,ssh]
                   [--clients 1,64] [--path-warmup SECONDS] [--warmup SECONDS] [--window SECONDS] [--streams N]
             bench --lifecycle [--quick] [--out FILE] [--home DIR]
             bench --journal [--quick] [--events N] [--users N] [--databases h2,postgres] [--pg-sandbox DIR] [--out FILE]
                           [--home DIR]
        --quick          5 s path warm-up, 2 s warm-up, 5 s windows, 3 s idle (instead of 40 s, 10 s, 15 s and 5 s);
                         with --lifecycle: 2 scale-up runs, 1 renewal, 2 restarts (instead of 3, 2 and 3)
        --out FILE       where to write the report (default: <home>/docs/benchmarks.md, with --lifecycle
                         <home>/docs/benchmarks-lifecycle.md)
        --home DIR       the Sluice folder with the built jars (default: the sluice.home property, else .)
        --sandbox DIR    a running bin/hpc-sandbox for the ssh path (default: $SLUICE_HPC_SANDBOX)
        --paths LIST     paths to measure; direct is the baseline and always measured
        --streams N      slow streams open at once in the concurrency scenario (default 1,000; --quick 200)
        --lifecycle      the replica lifecycle on the embedded path instead: scale-up decision, renewal under load,
                         recovery after SIGKILL (docs/benchmarks-lifecycle.md; no sandbox needed)
        --journal        the journal instead: write throughput, the key index's catch-up and users' recoveries on a
                         journal of --events N events (default 1,000,000; --quick 100,000) on H2 and PostgreSQL
                         (docs/benchmarks-journal.md), written by --users N users (default one per 100 events, at
                         most 10,000); PostgreSQL is a bin/pg-sandbox --durable the bench starts, or the running
                         sandbox --pg-sandbox DIR names""";

  /** The path being measured, so that Ctrl-C still stops its processes and cancels its job. */
  private static final AtomicReference<Stack> RUNNING = new AtomicReference<>();

  private BenchMain() {}

  public static void main(String[] args) {
    // The load generator's HTTP client hands each response to CompletableFuture's default executor: on 2 cores, a new
    // thread per request (21,001 in one run of 10,000 slow streams) unless the common pool has two threads.
    Stages.atLeastTwoCommonPoolThreads();
    PrintStream out = System.out;
    PrintStream err = System.err;
    Path home = Path.of(System.getProperty("sluice.home", ".")).toAbsolutePath().normalize();
    Path outFile = null;
    String sandboxDir = System.getenv("SLUICE_HPC_SANDBOX");
    List<String> paths = List.of("direct", "nginx", "embedded", "limited", "ssh");
    List<Integer> clients = List.of(1, 64);
    // Long enough for C1 and C2 to compile the hot paths of the gateway and the agent (their compiler threads were
    // still among the busiest threads after 5 s).
    Duration warmup = Duration.ofSeconds(10);
    // Per path, before any row: with only the 10 s row warm-up the embedded path measured a 7 ms p50 at 1 client,
    // while wrk against a gateway that had carried traffic for a few minutes saw about 1.3 ms (C2 still compiling).
    Duration pathWarmup = Duration.ofSeconds(40);
    Duration window = Duration.ofSeconds(15);
    Duration idleWindow = Duration.ofSeconds(5);
    boolean lifecycle = false;
    boolean journal = false;
    boolean quick = false;
    Integer events = null;
    Integer users = null;
    List<String> databases = List.of("h2", "postgres");
    String pgSandbox = null;
    Integer streams = null;
    List<String> throughputOnly = new ArrayList<>();   // options that mean nothing to --lifecycle and --journal
    List<String> journalOnly = new ArrayList<>();
    JournalPlan journalPlan = null;
    Settings settings;
    try {
      for (int i = 0; i < args.length; i++) {
        String a = args[i];
        if (List.of("--sandbox", "--paths", "--clients", "--path-warmup", "--warmup", "--window", "--streams").contains(a)) throughputOnly.add(a);
        if (List.of("--events", "--users", "--databases", "--pg-sandbox").contains(a)) journalOnly.add(a);
        switch (a) {
          case "--lifecycle" -> lifecycle = true;
          case "--journal" -> journal = true;
          case "--events" -> events = Integer.parseInt(value(args, ++i, a).replace(",", "").replace("_", ""));
          case "--users" -> users = Integer.parseInt(value(args, ++i, a).replace(",", "").replace("_", ""));
          case "--databases" -> databases = Arrays.stream(value(args, ++i, a).split(",")).map(String::trim).toList();
          case "--pg-sandbox" -> pgSandbox = value(args, ++i, a);
          case "--streams" -> streams = Integer.parseInt(value(args, ++i, a).replace(",", "").replace("_", ""));
          case "--quick" -> {
            quick = true;
            warmup = Duration.ofSeconds(2);
            pathWarmup = Duration.ofSeconds(5);
            window = Duration.ofSeconds(5);
            idleWindow = Duration.ofSeconds(3);
          }
          case "--out" -> outFile = Path.of(value(args, ++i, a));
          case "--home" -> home = Path.of(value(args, ++i, a)).toAbsolutePath().normalize();
          case "--sandbox" -> sandboxDir = value(args, ++i, a);
          case "--paths" -> paths = Arrays.stream(value(args, ++i, a).split(",")).map(String::trim).toList();
          case "--clients" -> clients = Arrays.stream(value(args, ++i, a).split(",")).map(s -> Integer.parseInt(s.trim())).toList();
          case "--path-warmup" -> pathWarmup = Duration.ofMillis((long) (Double.parseDouble(value(args, ++i, a)) * 1000));
          case "--warmup" -> warmup = Duration.ofMillis((long) (Double.parseDouble(value(args, ++i, a)) * 1000));
          case "--window" -> window = Duration.ofMillis((long) (Double.parseDouble(value(args, ++i, a)) * 1000));
          case "--help", "-h" -> {
            out.println(USAGE);
            return;
          }
          default -> throw new IllegalArgumentException("unknown option: " + a);
        }
      }
      if (lifecycle && journal) throw new IllegalArgumentException("--lifecycle and --journal are separate runs");
      if (lifecycle && !throughputOnly.isEmpty()) {
        throw new IllegalArgumentException("--lifecycle takes only --quick, --out and --home, not " + String.join(", ", throughputOnly));
      }
      if (journal && !throughputOnly.isEmpty()) {
        throw new IllegalArgumentException("--journal does not take " + String.join(", ", throughputOnly));
      }
      if (!journal && !journalOnly.isEmpty()) throw new IllegalArgumentException(String.join(", ", journalOnly) + " go with --journal");
      for (String db : databases) {
        if (!List.of("h2", "postgres").contains(db)) throw new IllegalArgumentException("unknown database: " + db + " (h2, postgres)");
      }
      if (journal) journalPlan = plan(events, users, quick);
      settings = settings(paths, clients, pathWarmup, warmup, window, idleWindow, StreamPlan.of(quick, streams));
    } catch (IllegalArgumentException e) {
      err.println("bench: " + e.getMessage());
      err.println(USAGE);
      System.exit(EXIT_USAGE);
      return;
    }
    String command = System.getProperty("sluice.bench.command", "java -jar bench/target/bench.jar " + String.join(" ", args)).trim();
    if (journal) {
      if (outFile == null) outFile = home.resolve("docs/benchmarks-journal.md");
      try {
        System.exit(runJournal(home, outFile, journalPlan, databases, pgSandbox, command, out, err) ? 0 : 1);
      } catch (Exception e) {
        err.println("bench: failed: " + e);
        System.exit(1);
      }
      return;
    }
    if (lifecycle) {
      if (outFile == null) outFile = home.resolve("docs/benchmarks-lifecycle.md");
      try {
        System.exit(runLifecycle(home, outFile, quick ? LifecycleBench.Plan.QUICK : LifecycleBench.Plan.FULL, command, out, err) ? 0 : 1);
      } catch (Exception e) {
        err.println("bench: failed: " + e);
        System.exit(1);
      }
      return;
    }
    if (outFile == null) outFile = home.resolve("docs/benchmarks.md");
    Runtime.getRuntime().addShutdownHook(new Thread(() -> {
      Stack s = RUNNING.getAndSet(null);
      if (s != null) s.close();
    }, "bench-cleanup"));
    try {
      boolean complete = run(home, outFile, sandboxDir, settings, command, out, err);
      System.exit(complete ? 0 : 1);
    } catch (Exception e) {
      err.println("bench: failed: " + e);
      System.exit(1);
    }
  }

  /**
   * The model server's flags on every path: up to 2,000 tokens (the short requests ask for 16 with max_tokens), no
   * delay per token (the slow streams ask for theirs with mock_token_delay_ms), a thread for every open stream.
   */
  static Settings settings(List<String> paths, List<Integer> clients, Duration pathWarmup, Duration warmup,
                           Duration window, Duration idle, StreamPlan streams) {
    return new Settings(paths, clients, pathWarmup, warmup, window, idle, List.of("--tokens",
        Integer.toString(streams.longTokens()), "--token-delay-ms", "0", "--threads", Integer.toString(streams.mockThreads())),
        streams);
  }

  private static JournalPlan plan(Integer events, Integer users, boolean quick) {
    int n = events != null ? events : quick ? JournalPlan.QUICK_EVENTS : JournalPlan.DEFAULT_EVENTS;
    return JournalPlan.of(n, users != null ? users : JournalPlan.defaultUsers(n));
  }

  private static String value(String[] args, int i, String option) {
    if (i >= args.length) throw new IllegalArgumentException(option + " needs a value");
    return args[i];
  }

  /** The lifecycle scenario: writes its own report; true when every target and check is met. */
  static boolean runLifecycle(Path home, Path outFile, LifecycleBench.Plan plan, String command, PrintStream out,
                              PrintStream err) throws IOException, InterruptedException {
    Path work = home.resolve("bench/target/run");
    deleteTree(work.resolve("lifecycle"));
    LifecycleReport.Data data = LifecycleBench.run(home, work, plan, command, err);
    out.print(LifecycleReport.console(data));
    Files.createDirectories(outFile.toAbsolutePath().getParent());
    Files.writeString(outFile, LifecycleReport.markdown(data), StandardCharsets.UTF_8);
    out.println("wrote " + outFile);
    return LifecycleReport.allMet(data);
  }

  /** The journal scenario: writes its own report; true when every database was measured and every check is right. */
  static boolean runJournal(Path home, Path outFile, JournalPlan plan, List<String> databases, String pgSandbox,
                            String command, PrintStream out, PrintStream err) throws IOException {
    Path work = home.resolve("bench/target/run/journal");
    deleteTree(work);
    JournalBench.Data data = JournalBench.run(home, work, plan, databases, pgSandbox, command, err);
    out.print(JournalReport.console(data));
    Files.createDirectories(outFile.toAbsolutePath().getParent());
    Files.writeString(outFile, JournalReport.markdown(data), StandardCharsets.UTF_8);
    out.println("wrote " + outFile);
    return JournalReport.complete(data);
  }

  /**
   * The class-data archives (docs/operations.md "Fast start") older than the jar they were made for: a jar rebuilt
   * alone (e.g. with -Dsluice.cds.skip=true) leaves them behind, and every JVM of the stack then starts without them.
   */
  static List<String> staleArchives(Path home) throws IOException {
    Map<String, List<String>> archivesByJar = Map.of(
        "http-edge/target/sluice.jar", List.of("sluice.jsa", "sluice.agent.jsa", "sluice.runner.jsa"),
        "mock-llm/target/mock-llm.jar", List.of("mock-llm.jsa"));
    List<String> stale = new ArrayList<>();
    for (var e : new TreeMap<>(archivesByJar).entrySet()) {
      Path jar = home.resolve(e.getKey());
      if (!Files.isRegularFile(jar)) continue;
      for (String name : e.getValue()) {
        Path archive = jar.resolveSibling(name);
        if (Files.isRegularFile(archive)
            && Files.getLastModifiedTime(archive).compareTo(Files.getLastModifiedTime(jar)) < 0) {
          stale.add(home.relativize(archive).toString());
        }
      }
    }
    return stale;
  }

  /** Measures every path in turn and writes the report; true when every path was measured without errors. */
  static boolean run(Path home, Path outFile, String sandboxDir, Settings settings, String command, PrintStream out,
                     PrintStream err) throws IOException, InterruptedException {
    for (String jar : List.of("http-edge/target/sluice.jar", "slurm-agent/target/slurm-agent.jar", "mock-llm/target/mock-llm.jar")) {
      if (!Files.isRegularFile(home.resolve(jar))) throw new IOException(home.resolve(jar) + " is missing: build with mvn -DskipTests package");
    }
    List<String> stale = staleArchives(home);
    if (!stale.isEmpty()) {
      throw new IOException("class-data archives older than their jar: " + String.join(", ", stale) + ". A JVM ignores "
          + "them without a word and starts slower, which the start targets would measure: rebuild them with bin/sluice "
          + "cds (or a full mvn -DskipTests install), or delete them to measure a start without them");
    }
    Path work = home.resolve("bench/target/run");
    deleteTree(work);
    Files.createDirectories(work);
    double ticksPerSecond = clockTicks();
    long started = System.nanoTime();
    Sandbox sandbox = null;
    String noSandbox = "no HPC sandbox: run bin/sluice bench as root (it starts one) or set SLUICE_HPC_SANDBOX";
    if (settings.paths().contains("ssh") && sandboxDir != null && !sandboxDir.isBlank()) {
      try {
        sandbox = Sandbox.load(Path.of(sandboxDir));
      } catch (IOException | RuntimeException e) {
        noSandbox = "cannot use the HPC sandbox " + sandboxDir + ": " + e;
      }
    }
    Machine machine = Machine.describe(sandbox == null ? Map.of() : Map.of("SLURM_CONF", sandbox.slurmConf().toString()));
    err.printf("bench: %d cores, %s, %s; logs in %s%n", machine.cores(), machine.memory(), machine.cpuModel(), work);

    List<Row> rows = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    List<Idle> idle = new ArrayList<>();
    List<StreamRow> streamRows = new ArrayList<>();
    List<Startup> startups = new ArrayList<>();
    String reference = null;
    boolean identical = true;
    Optional<String> sandboxUsed = Optional.empty();
    for (String path : settings.paths()) {
      err.println("bench: starting the " + path + " path");
      long t0 = System.nanoTime();
      Stack stack;
      try {
        if (path.equals("direct")) {
          stack = DirectStack.start(home, work, settings.mockArgs());
        } else if (path.equals("nginx")) {
          stack = NginxStack.start(home, work, settings.mockArgs(), settings.streams().inflight());
        } else if (path.equals("embedded") || path.equals("limited")) {
          stack = GatewayStack.embedded(home, work, settings.mockArgs(), settings.streams().inflight());
        } else {
          if (sandbox == null) throw new IOException(noSandbox);
          sandboxUsed = Optional.of(sandbox.dir().toString());
          stack = GatewayStack.ssh(home, work, sandbox, settings.streams().inflight());
        }
      } catch (IOException | RuntimeException e) {
        String why = path + " path: not measured: " + firstLine(e.getMessage());
        err.println("bench: " + why + "\n" + e.getMessage());
        notes.add(why);
        continue;
      }
      RUNNING.set(stack);
      try (stack) {
        err.printf("bench: %s path ready after %.1f s%n", path, (System.nanoTime() - t0) / 1e9);
        HttpClient http = Api.client();
        // limited: the embedded path with an admin-made key whose user, model and key scopes all have limits.
        String key = path.equals("limited") ? Api.limitedKey(http, stack.baseUri()) : Api.API_KEY;
        String answer = Api.answerOf(Api.send(http, Api.chat(stack.baseUri(), key, stack.model())));
        if (reference == null) {
          reference = answer;
        } else if (!reference.equals(answer)) {
          identical = false;
          notes.add(path + " path answered differently from the direct path: " + answer);
        }
        Map<Long, String> owners = stack.owners(ProcSnapshot.take());
        err.println("bench: " + path + " processes: " + owners.entrySet().stream()
            .collect(Collectors.groupingBy(Map.Entry::getValue, TreeMap::new,
                Collectors.mapping(e -> Long.toString(e.getKey()), Collectors.joining(","))))
            .entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).collect(Collectors.joining("; ")));
        Set<Long> lookInside = owners.entrySet().stream()
            .filter(e -> List.of(CpuUse.LOAD, CpuUse.GATEWAY, CpuUse.AGENT, CpuUse.MOCK).contains(e.getValue()))
            .map(Map.Entry::getKey).collect(Collectors.toSet());
        Supplier<Sample> probe = () -> Sample.take(lookInside);
        int most = settings.concurrency().stream().max(Integer::compare).orElse(1);
        long warmupStarted = System.nanoTime();
        List<Long> warmupPerSecond = List.of();
        if (!settings.pathWarmup().isZero()) {
          err.printf("bench: %s path: %d s of warm-up at %d clients%n", path, settings.pathWarmup().toSeconds(), most);
          warmupPerSecond = ClosedLoop.run(http, Api.chat(stack.baseUri(), key, stack.model()), most, settings.pathWarmup(),
              Duration.ofSeconds(1), probe).perSecond();
        }
        // A fresh gateway's start: its first 200, and how its rate grew through the warm-up (the targets' "start").
        for (Startup.Launch l : stack.launch().stream().toList()) {
          startups.add(Startup.of(path, l, warmupStarted, most, warmupPerSecond));
        }
        for (int c : settings.concurrency()) {
          ClosedLoop.Result r = ClosedLoop.run(http, Api.chat(stack.baseUri(), key, stack.model()), c, settings.warmup(), settings.window(), probe);
          double seconds = r.window().toNanos() / 1e9;
          CpuUse cpu = CpuUse.between(r.before(), r.after(), owners, ticksPerSecond, seconds);
          Row row = new Row(path, c, r.requests(), r.errors(), seconds, Latency.of(r.latencyNanos()), cpu);
          rows.add(row);
          out.print((rows.size() == 1 ? Report.consoleHeader() : "") + Report.consoleLine(rows, row));
          if (r.errors() > 0) notes.add(path + " path, " + c + " clients: " + r.errors() + " errors; first: " + r.firstError());
        }
        // The same processes with no request at all: what the path costs just by being up.
        Thread.sleep(1000);
        Sample before = probe.get();
        long idleStart = System.nanoTime();
        Thread.sleep(settings.idle().toMillis());
        Sample after = probe.get();
        idle.add(new Idle(path, CpuUse.between(before, after, owners, ticksPerSecond, (System.nanoTime() - idleStart) / 1e9)));
        StreamRow streamRow = StreamBench.measure(path, stack, key, settings, owners, probe, ticksPerSecond, notes, err);
        streamRows.add(streamRow);
        out.print(StreamReport.console(streamRow));
      } catch (IOException | RuntimeException e) {
        String why = path + " path: failed while measuring: " + firstLine(String.valueOf(e.getMessage()));
        err.println("bench: " + why);
        notes.add(why);
      } finally {
        RUNNING.set(null);
      }
    }

    out.println();
    out.print(Report.console(rows));
    Report.Data data = new Report.Data(ZonedDateTime.now(), Duration.ofNanos(System.nanoTime() - started), command,
        machine, settings, rows, idle, streamRows, startups, notes,
        reference == null ? "(no answer)" : reference, identical, sandboxUsed);
    out.print(Targets.console(Targets.of(data)));
    Files.createDirectories(outFile.toAbsolutePath().getParent());
    Files.writeString(outFile, Report.markdown(data), StandardCharsets.UTF_8);
    out.println("wrote " + outFile);
    return notes.isEmpty();
  }

  private static String firstLine(String s) {
    return s == null ? "" : s.lines().findFirst().orElse("");
  }

  /** USER_HZ, the unit of /proc's CPU times (100 on every common Linux). */
  private static double clockTicks() {
    String hz = Processes.output(List.of("getconf", "CLK_TCK"), Map.of());
    return hz.matches("\\d+") ? Double.parseDouble(hz) : 100;
  }

  private static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) return;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }
}
