package sluice.bench;

import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import sluice.bench.JournalBench.Data;
import sluice.bench.JournalBench.DbRun;
import sluice.bench.JournalProbe.IndexRun;
import sluice.bench.JournalProbe.RecoveryResult;
import sluice.bench.JournalProbe.UserRun;

/** Renders a journal run as docs/benchmarks-journal.md and as console lines. Pure: same data, same text. */
final class JournalReport {
  static final String NONE_CELL = "—";

  private JournalReport() {}

  static String markdown(Data d) {
    StringBuilder b = new StringBuilder();
    JournalPlan p = d.plan();
    b.append("# Benchmarks: the journal on H2 and PostgreSQL\n\n");
    b.append("Written by `bin/sluice bench --journal` (bench/README.md) on ")
        .append(d.at().format(DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm zzz", Locale.ROOT)))
        .append(". Every number on this page was measured in that one run, on the machine described below; none is "
            + "estimated or copied from elsewhere. The request path is in [benchmarks.md](benchmarks.md), the replica "
            + "lifecycle in [benchmarks-lifecycle.md](benchmarks-lifecycle.md).\n\n");
    b.append("Each database gets a journal of ").append(n(p.events())).append(" events, written through the real "
        + "journal plugin (pekko-persistence-jdbc) as the user actors write them: ").append(n(p.users()))
        .append(" ordinary users (").append(n(p.bulkEvents() / p.users())).append("–").append(n(p.lengthOf(0)))
        .append(" events each: `UserCreated`, one to four `KeyCreated`, for every tenth user a `KeyRevoked`, and "
            + "otherwise `CountersSaved`, the counter checkpoints the previous release wrote every 5 s per active user) "
            + "and ").append(2 * p.subjects()).append(" users with a long history of ").append(n(p.historyLength()))
        .append(" events. The key events are tagged as `UserActor` tags them. Then, in JVMs of their own as a gateway "
            + "start is: the key index's catch-up, and the recovery of the long-history users.\n\n");
    for (DbRun r : d.runs()) {
      if (r.failure() != null) b.append("**").append(r.name()).append(": not everything was measured:** ").append(r.failure())
          .append(" (the bench's console output has the error).\n\n");
    }
    loadNote(d).ifPresent(s -> b.append(s).append("\n\n"));

    b.append("## Summary\n\n").append(header(d, ""));
    b.append(row(d, "event write throughput, " + n(p.users()) + " users writing one event at a time, " + p.inFlight()
        + " writes in flight: checkpoints only", r -> r.phases() == null ? NONE_CELL : n(r.phases().get(1).perSecond()) + " events/s"));
    b.append(row(d, "the same with the users' key events among the checkpoints",
        r -> r.phases() == null ? NONE_CELL : n(r.phases().get(0).perSecond()) + " events/s"));
    b.append(row(d, "key index catch-up on " + n(p.events()) + " events, cold JVM, with the V3 tag index (two runs)",
        JournalReport::coldWithIndex));
    b.append(row(d, "a user's recovery, " + n(p.historyLength()) + " events, no snapshot: median of " + (p.subjects() - 1)
        + " (first after start)", r -> recoveryCell(r.plain())));
    b.append(row(d, "a user's recovery, a snapshot and " + p.appended() + " events: median of " + (p.subjects() - 1)
        + " (first after start)", r -> recoveryCell(r.snapshot())));
    b.append('\n');

    JournalReportSections.write(b, d);
    JournalReportSections.index(b, d);
    JournalReportSections.recovery(b, d);
    JournalReportSections.method(b, d);
    return b.toString();
  }

  /** The console summary: the same rows as the report's summary. */
  static String console(Data d) {
    StringBuilder b = new StringBuilder();
    for (DbRun r : d.runs()) {
      b.append(r.name()).append(": ");
      List<String> parts = new ArrayList<>();
      if (r.phases() != null) {
        parts.add("write " + n(r.phases().get(1).perSecond()) + " events/s (checkpoints), " + n(r.phases().get(0).perSecond())
            + " (with key events), " + n(r.phases().get(2).perSecond()) + " (one writer)");
      }
      if (r.withIndex() != null) parts.add("key index " + coldWithIndex(r) + " cold, "
          + s(r.withIndex().runs().get(r.withIndex().runs().size() - 1).seconds()) + " warm");
      if (r.withoutIndex() != null) parts.add("without the tag index " + s(r.withoutIndex().runs().get(0).seconds()) + " cold");
      if (r.plain() != null) parts.add("recovery " + recoveryCell(r.plain()));
      if (r.snapshot() != null) parts.add("with a snapshot " + recoveryCell(r.snapshot()));
      if (r.failure() != null) parts.add(r.failure());
      b.append(String.join("; ", parts)).append('\n');
    }
    return b.toString();
  }

  /** True when every database was measured and every check came out right. */
  static boolean complete(Data d) {
    return d.runs().stream().allMatch(r -> r.failure() == null && correct(r));
  }

  static boolean correct(DbRun r) {
    return r.withIndex() != null && r.withIndex().runs().stream().allMatch(IndexRun::correct)
        && r.withoutIndex() != null && r.withoutIndex().runs().stream().allMatch(IndexRun::correct)
        && r.withIndexAgain() != null && r.withIndexAgain().runs().stream().allMatch(IndexRun::correct)
        && r.plain() != null && r.plain().users().stream().allMatch(u -> u.keys() == u.expectedKeys())
        && r.snapshot() != null && r.snapshot().users().stream().allMatch(u -> u.keys() == u.expectedKeys());
  }

  /** The cold loads with the tag index: before the loads without it, and after it was rebuilt. */
  static String coldWithIndex(DbRun r) {
    List<String> cells = new ArrayList<>();
    for (JournalProbe.IndexResult x : java.util.Arrays.asList(r.withIndex(), r.withIndexAgain())) {
      if (x != null && !x.runs().isEmpty()) cells.add(s(x.runs().get(0).seconds()));
    }
    return cells.isEmpty() ? NONE_CELL : String.join(", ", cells);
  }

  /** "12.3 ms (first 45.6 ms)": the median of the users after the first, and the first. */
  static String recoveryCell(RecoveryResult r) {
    if (r == null || r.users().isEmpty()) return NONE_CELL;
    List<UserRun> rest = r.users().subList(1, r.users().size());
    String first = ms(r.users().get(0).millis());
    return rest.isEmpty() ? first : ms(median(rest.stream().map(UserRun::millis).toList())) + " (first " + first + ")";
  }

  static double median(List<Double> values) {
    List<Double> sorted = values.stream().sorted().toList();
    int m = sorted.size() / 2;
    return sorted.size() % 2 == 1 ? sorted.get(m) : (sorted.get(m - 1) + sorted.get(m)) / 2;
  }

  static double max(List<Double> values) { return values.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN); }

  /** A sentence when other processes competed for the CPU: a 1-minute load average above half the cores. */
  static java.util.Optional<String> loadNote(Data d) {
    List<String> busy = new ArrayList<>();
    for (DbRun r : d.runs()) {
      for (Map.Entry<String, String> e : r.loads().entrySet()) {
        try {
          double load = Double.parseDouble(e.getValue().split("\\s+")[0]);
          if (load > d.machine().cores() / 2.0) busy.add(r.name() + " " + e.getKey() + ": " + e.getValue().split("\\s+")[0]);
        } catch (RuntimeException ignored) {
          // an unreadable /proc/loadavg: nothing to say
        }
      }
    }
    if (busy.isEmpty()) return java.util.Optional.empty();
    // The load counts the bench's own processes (its JVM, the probe JVMs, the database server) as well as anything else.
    return java.util.Optional.of("**The machine was busy.** The 1-minute load average was above half the "
        + d.machine().cores() + " cores at the start of " + String.join(", ", busy) + " (all readings are under *Machine*);"
        + " it counts the bench's own processes (its JVM, the probe JVMs, the database server) as well as anything else"
        + " that ran. Times on this page include that competition.");
  }

  static String header(Data d, String first) {
    StringBuilder b = new StringBuilder("| ").append(first).append(" |");
    StringBuilder line = new StringBuilder("|---|");
    for (DbRun r : d.runs()) {
      b.append(' ').append(r.name()).append(" |");
      line.append("--:|");
    }
    return b.append('\n').append(line).append('\n').toString();
  }

  static String row(Data d, String label, Function<DbRun, String> cell) {
    StringBuilder b = new StringBuilder("| ").append(label).append(" |");
    for (DbRun r : d.runs()) b.append(' ').append(cell.apply(r)).append(" |");
    return b.append('\n').toString();
  }

  static String n(double v) { return String.format(Locale.ROOT, "%,.0f", v); }

  static String s(double seconds) { return String.format(Locale.ROOT, "%.2f s", seconds); }

  static String ms(double millis) {
    return String.format(Locale.ROOT, millis >= 100 ? "%.0f ms" : "%.1f ms", millis);
  }

  static String mib(long bytes) { return String.format(Locale.ROOT, "%,.1f MiB", bytes / 1024.0 / 1024.0); }
}
