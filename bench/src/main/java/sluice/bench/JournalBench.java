package sluice.bench;

import com.typesafe.config.Config;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.actor.typed.ActorSystem;
import sluice.persistence.Migrations;

/**
 * {@code bench --journal}: on each database, fills a migrated journal with a plan's events through the real journal
 * plugin, then times the key index's catch-up (with and without the V3 tag index) and users' recoveries in JVMs of
 * their own ({@link JournalProbe}). See bench/README.md.
 */
final class JournalBench {
  private static final Duration PROBE_LIMIT = Duration.ofMinutes(30);

  private JournalBench() {}

  /**
   * What one database measured; a part is null when it was not measured ({@code failure} says why).
   *
   * @param server    product, version and (PostgreSQL) the settings that decide a commit's cost
   * @param analyze   the statistics refresh after the fill (not part of any timed step)
   * @param withIndexAgain the loads with the tag index once more, after it was rebuilt: the first loads' repeat, the
   *                  other order (without the index first) and another moment of the machine's load
   * @param indexBuild the V3 migration's index made again on the filled journal
   * @param loads     load average (1, 5, 15 min) at the start of each step
   */
  record DbRun(String name, String server, List<JournalFill.Phase> phases, Map<String, Long> sizes, Duration analyze,
               JournalProbe.IndexResult withIndex, JournalProbe.IndexResult withoutIndex,
               JournalProbe.IndexResult withIndexAgain, Duration indexBuild,
               JournalProbe.RecoveryResult plain, JournalProbe.RecoveryResult snapshot, Map<String, String> loads,
               String failure) {}

  /**
   * @param settings the plugin settings the figures depend on, as the run's config had them
   */
  record Data(ZonedDateTime at, Duration took, String command, Machine machine, JournalPlan plan,
              Map<String, String> settings, List<DbRun> runs) {
    Data {
      settings = Map.copyOf(settings);
      runs = List.copyOf(runs);
    }
  }

  /** Settings quoted by the report, in this order. */
  static final List<String> SETTINGS = List.of(
      "jdbc-read-journal.journal-sequence-retrieval.batch-size",
      "jdbc-read-journal.journal-sequence-retrieval.query-delay",
      "jdbc-read-journal.journal-sequence-retrieval.max-tries",
      "jdbc-read-journal.refresh-interval",
      "jdbc-read-journal.max-buffer-size",
      "jdbc-journal.batchSize",
      "jdbc-journal.parallelism",
      "jdbc-journal.bufferSize",
      "pekko-persistence-jdbc.shared-databases.slick.db.maxConnections",
      "pekko.persistence.max-concurrent-recoveries");

  static Data run(Path home, Path work, JournalPlan plan, List<String> databases, String pgSandbox, String command,
                  PrintStream err) throws IOException {
    long started = System.nanoTime();
    Files.createDirectories(work);
    Machine machine = Machine.describe(Map.of());
    err.printf("bench: journal of %,d events on %s; %d cores; logs in %s%n", plan.events(), databases, machine.cores(), work);
    List<DbRun> runs = new ArrayList<>();
    Map<String, String> settings = new LinkedHashMap<>();
    AtomicReference<JournalDb> current = new AtomicReference<>();
    Thread cleanUp = new Thread(() -> {
      ProcessHandle.current().descendants().forEach(ProcessHandle::destroy);   // a probe JVM still running
      JournalDb db = current.get();
      if (db != null) db.close();
    }, "journal-bench-cleanup");
    Runtime.getRuntime().addShutdownHook(cleanUp);                   // Ctrl-C still stops the sandbox it started
    for (String name : databases) {
      JournalDb db;
      try {
        db = name.equals("h2") ? JournalDb.h2() : JournalDb.postgres(home, pgSandbox, err);
      } catch (Exception e) {
        err.println("bench: " + name + ": cannot set up the database: " + e);
        runs.add(new DbRun(name.equals("h2") ? "H2" : "PostgreSQL", "(not started)", null, null, null, null, null, null,
            null, null, null, Map.of(), "cannot set up the database: " + firstLine(e)));
        continue;
      }
      current.set(db);
      try (db) {
        if (settings.isEmpty()) {
          Config c = JournalSystem.config(db.config());
          for (String key : SETTINGS) settings.put(key, c.getValue(key).unwrapped().toString());
        }
        runs.add(measure(work, plan, db, err));
      } finally {
        current.set(null);
      }
    }
    Runtime.getRuntime().removeShutdownHook(cleanUp);
    return new Data(ZonedDateTime.now(), Duration.ofNanos(System.nanoTime() - started), command, machine, plan, settings, runs);
  }

  private static DbRun measure(Path work, JournalPlan plan, JournalDb db, PrintStream err) {
    String name = db.name();
    String server = "?";
    List<JournalFill.Phase> phases = null;
    Map<String, Long> sizes = null;
    Duration analyze = null;
    JournalProbe.IndexResult with = null;
    JournalProbe.IndexResult without = null;
    JournalProbe.IndexResult again = null;
    Duration build = null;
    JournalProbe.RecoveryResult plain = null;
    JournalProbe.RecoveryResult snapshot = null;
    Map<String, String> loads = new LinkedHashMap<>();
    String step = "migrating";
    try {
      server = db.describe();
      err.println("bench: " + name + ": " + server);
      Migrations.migrate(db.settings());
      step = "filling";
      loads.put("fill", loadAverage());
      ActorSystem<Void> system = JournalSystem.start(JournalSystem.config(db.config()), "journal-bench-fill");
      try {
        phases = JournalFill.fill(system, plan, err);
      } finally {
        JournalSystem.stop(system);
      }
      step = "measuring the journal";
      analyze = db.analyze();
      sizes = db.sizes();
      err.println("bench: " + name + ": " + sizes);
      step = "loading the key index";
      loads.put("key index", loadAverage());
      with = probe(work, db, plan, JournalProbe.IndexResult.class, "keyindex", "--runs", "2");
      err.println("bench: " + name + ": key index with the tag index: " + with);
      step = "loading the key index without the tag index";
      loads.put("key index without the tag index", loadAverage());
      db.dropTagIndex();
      without = probe(work, db, plan, JournalProbe.IndexResult.class, "keyindex", "--runs", "2");
      err.println("bench: " + name + ": key index without the tag index: " + without);
      build = db.createTagIndex();
      step = "loading the key index with the rebuilt tag index";
      loads.put("key index, tag index rebuilt", loadAverage());
      again = probe(work, db, plan, JournalProbe.IndexResult.class, "keyindex", "--runs", "2");
      err.println("bench: " + name + ": key index with the rebuilt tag index: " + again);
      step = "making snapshots";
      JournalFill.snapshots(db, plan, err);
      step = "recovering users";
      loads.put("recovery", loadAverage());
      plain = probe(work, db, plan, JournalProbe.RecoveryResult.class, "recovery",
          "--users", String.join(",", plan.plainSubjects()), "--keys", "3");
      snapshot = probe(work, db, plan, JournalProbe.RecoveryResult.class, "recovery",
          "--users", String.join(",", plan.snapshotSubjects()), "--keys", "4");
      err.println("bench: " + name + ": recovery " + plain + " / " + snapshot);
      step = null;
    } catch (Exception e) {
      err.println("bench: " + name + ": failed while " + step + ": " + e);
      e.printStackTrace(err);
    }
    loads.put("end", loadAverage());
    return new DbRun(name, server, phases, sizes, analyze, with, without, again, build, plain, snapshot, loads,
        step == null ? null : "failed while " + step);
  }

  /** Runs one {@link JournalProbe} in a new JVM with this bench's classpath and default JVM options, as a gateway. */
  private static <T> T probe(Path work, JournalDb db, JournalPlan plan, Class<T> type, String... args)
      throws IOException, InterruptedException {
    String id = db.name().toLowerCase() + "-" + args[0] + "-" + System.nanoTime();
    Path out = work.resolve(id + ".json");
    Path log = work.resolve(id + ".log");
    List<String> cmd = new ArrayList<>(List.of(Processes.java(), "-cp", System.getProperty("java.class.path"),
        JournalProbe.class.getName(), args[0], "--db", db.confFile().toString(), "--events", Integer.toString(plan.events()),
        "--plan-users", Integer.toString(plan.users()), "--out", out.toString()));
    cmd.addAll(List.of(args).subList(1, args.length));
    Process p = Processes.start(cmd, Map.of(), log);
    if (!p.waitFor(PROBE_LIMIT.toMinutes(), TimeUnit.MINUTES)) {
      Processes.stop(p, Duration.ofSeconds(5));
      throw new IOException(args[0] + " probe did not finish within " + PROBE_LIMIT.toMinutes() + " min; log " + log);
    }
    if (p.exitValue() != 0) throw new IOException(args[0] + " probe failed (exit " + p.exitValue() + "): " + Processes.tail(log, 15));
    return JournalProbe.read(out, type);
  }

  static String loadAverage() {
    try {
      String[] f = Files.readString(Path.of("/proc/loadavg")).trim().split("\\s+");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "?";
    }
  }

  private static String firstLine(Exception e) {
    String m = String.valueOf(e.getMessage());
    return m.lines().findFirst().orElse(m);
  }
}
