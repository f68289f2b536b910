package sluice.bench;

import static sluice.bench.JournalReport.NONE_CELL;
import static sluice.bench.JournalReport.header;
import static sluice.bench.JournalReport.max;
import static sluice.bench.JournalReport.median;
import static sluice.bench.JournalReport.mib;
import static sluice.bench.JournalReport.ms;
import static sluice.bench.JournalReport.n;
import static sluice.bench.JournalReport.row;
import static sluice.bench.JournalReport.s;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.Function;
import sluice.bench.JournalBench.Data;
import sluice.bench.JournalBench.DbRun;
import sluice.bench.JournalFill.Phase;
import sluice.bench.JournalProbe.IndexResult;
import sluice.bench.JournalProbe.IndexRun;
import sluice.bench.JournalProbe.RecoveryResult;
import sluice.bench.JournalProbe.UserRun;

/** The report's numbered sections, one method each (JournalReport has the page around them). */
final class JournalReportSections {
  private JournalReportSections() {}

  static void write(StringBuilder b, Data d) {
    JournalPlan p = d.plan();
    b.append("## 1. Event write throughput\n\n");
    b.append("Each user is a persistent actor with the user's own persistence id (`user|<id>`) that persists what it is "
        + "given, through the journal plugin's write path as the gateway configures it. Four phases, one after the "
        + "other. The ordinary users, round by round (each round gives every user its next event), with ")
        .append(p.inFlight()).append(" writes in flight (below the plugin's `jdbc-journal.bufferSize` of ")
        .append(d.settings().getOrDefault("jdbc-journal.bufferSize", "?")).append(", beyond which it refuses writes instead "
            + "of queueing them): first the rounds that hold their key events (")
        .append(pct(p.ordinaryTaggedEvents(), (long) p.mixedRounds() * p.users())).append(" of those events are tagged), then "
            + "the rounds of checkpoints only. Then one long history written by its actor alone, one event per write, "
            + "each waiting for the last: the cost of one actor's persist. Then the other long histories together, ")
        .append(p.chunk()).append(" events per write. The plugin groups concurrent writes into transactions of up to "
            + "`jdbc-journal.batchSize` = ").append(d.settings().getOrDefault("jdbc-journal.batchSize", "?"))
        .append(" rows, `jdbc-journal.parallelism` = ").append(d.settings().getOrDefault("jdbc-journal.parallelism", "?"))
        .append(" at a time, on a pool of ")
        .append(d.settings().getOrDefault("pekko-persistence-jdbc.shared-databases.slick.db.maxConnections", "?"))
        .append(" connections; a transaction that holds any tagged row inserts its rows with `RETURNING` the ordering "
            + "numbers (pekko-persistence-jdbc 1.1.1, `JournalQueries.writeJournalRows`), one without tags as one batch. "
            + "*After the first tenth* leaves out the first tenth of a phase's events.\n\n");
    b.append("| phase | writers | events per write | writes in flight | events |");
    StringBuilder line = new StringBuilder("|---|--:|--:|--:|--:|");
    for (DbRun r : d.runs()) {
      b.append(' ').append(r.name()).append(": time | events/s | after the first tenth |");
      line.append("--:|--:|--:|");
    }
    b.append('\n').append(line).append('\n');
    DbRun any = d.runs().stream().filter(r -> r.phases() != null).findFirst().orElse(null);
    if (any != null) {
      for (int i = 0; i < any.phases().size(); i++) {
        Phase ph = any.phases().get(i);
        b.append("| ").append(ph.name()).append(" | ").append(n(ph.writers())).append(" | ").append(ph.perWrite()).append(" | ")
            .append(ph.inFlight()).append(" | ").append(n(ph.events())).append(" |");
        for (DbRun r : d.runs()) {
          if (r.phases() == null) {
            b.append(" — | — | — |");
            continue;
          }
          Phase x = r.phases().get(i);
          b.append(' ').append(s(x.took().toNanos() / 1e9)).append(" | ").append(n(x.perSecond())).append(" | ")
              .append(n(x.steadyPerSecond())).append(" |");
        }
        b.append('\n');
      }
    }
    b.append("\nThe journal afterwards (before the snapshots and appended events of section 3):\n\n").append(header(d, ""));
    b.append(row(d, "`event_journal` rows", r -> size(r, "event_journal rows", JournalReport::n)));
    b.append(row(d, "`event_tag` rows (the key events)", r -> size(r, "event_tag rows", JournalReport::n)));
    b.append(row(d, "`event_journal`, table and indexes", r -> size(r, "event_journal bytes", JournalReport::mib)));
    b.append(row(d, "`event_tag`, table and indexes", r -> size(r, "event_tag bytes", JournalReport::mib)));
    b.append(row(d, "the whole database (H2: its file)", r -> size(r, "database bytes", JournalReport::mib)));
    b.append(row(d, "the whole database per event", r -> r.sizes() == null || !r.sizes().containsKey("database bytes") ? NONE_CELL
        : n((double) r.sizes().get("database bytes") / r.sizes().get("event_journal rows")) + " bytes"));
    b.append(row(d, "statistics refresh after the fill (PostgreSQL: `VACUUM ANALYZE` of both tables; H2: `ANALYZE`)",
        r -> r.analyze() == null ? NONE_CELL : s(r.analyze().toNanos() / 1e9)));
    b.append("\nPostgreSQL's sizes are `pg_total_relation_size` (with TOAST and indexes) and `pg_database_size`. H2 "
        + "keeps the event payloads (`BLOB`) in its LOB store, which its per-table count leaves out, so for H2 only the "
        + "file's size is given, read after the fill with the database closed. The statistics refresh is what autovacuum or H2's auto-analyze do in time; "
        + "it ran before the timed reads so that they do not depend on when those last ran.\n\n");
    b.append("**What this means.** ");
    List<String> says = new ArrayList<>();
    for (DbRun r : d.runs()) {
      if (r.phases() == null) continue;
      Phase keys = r.phases().get(0);
      Phase checkpoints = r.phases().get(1);
      Phase alone = r.phases().get(2);
      says.add(r.name() + " took " + n(checkpoints.perSecond()) + " checkpoints/s from " + n(checkpoints.writers())
          + " users writing one at a time (" + n(keys.perSecond()) + " events/s while key events were among them); at one "
          + "checkpoint per active user every 5 s, as the previous release wrote them, that is the checkpoints of about "
          + n(checkpoints.perSecond() * 5) + " active users with nothing else written. One actor alone got "
          + n(alone.perSecond()) + " events/s, " + ms(1000 / alone.perSecond()) + " per write: what each persist of a "
          + "user actor waits for");
    }
    b.append(says.isEmpty() ? "Nothing was measured." : String.join(". ", says) + ".");
    b.append(" Many actors' writes share each transaction, which is why the ordinary users' throughput is many times "
        + "the lone actor's.\n\n");
  }

  static void index(StringBuilder b, Data d) {
    JournalPlan p = d.plan();
    Map<String, String> st = d.settings();
    b.append("## 2. The key index's catch-up\n\n");
    b.append("What a gateway start blocks on: `KeyIndex.load(system, \"jdbc-read-journal\")` replays every event tagged `")
        .append(sluice.core.user.KeyIndex.TAG).append("` (`currentEventsByTag`) into memory: here ").append(n(p.taggedEvents()))
        .append(" of the ").append(n(p.events())).append(" events (").append(pct(p.taggedEvents(), p.events()))
        .append("). Timed from the call until its future completes, in a new JVM started as the gateway is (no JVM "
            + "options), in a new actor system on the filled database; then once more in a second actor system in the "
            + "same JVM; then the plain tag query once more with timestamps. Then the V3 migration's index on "
            + "`event_tag (tag, event_id)` is dropped and the same probe runs again; then the index is built again as the "
            + "migration builds it and the probe runs a third time, so the loads with the index are measured twice, "
            + "before and after those without it. Each load is checked: every user, and every key's digest mapping to its "
            + "user and key id.\n\n");
    b.append(header(d, ""));
    b.append(row(d, "with the V3 tag index: **cold JVM**", r -> run(r.withIndex(), 0)));
    b.append(row(d, "with the V3 tag index: second load, same JVM", r -> run(r.withIndex(), 1)));
    b.append(row(d, "without the tag index: **cold JVM**", r -> run(r.withoutIndex(), 0)));
    b.append(row(d, "without the tag index: second load, same JVM", r -> run(r.withoutIndex(), 1)));
    b.append(row(d, "with the V3 tag index again (rebuilt): **cold JVM**", r -> run(r.withIndexAgain(), 0)));
    b.append(row(d, "with the V3 tag index again (rebuilt): second load, same JVM", r -> run(r.withIndexAgain(), 1)));
    b.append(row(d, "the tag query once more, with the index: first event after / ended after", r -> tagRead(r.withIndex())));
    b.append(row(d, "the tag query once more, without the index: first event after / ended after", r -> tagRead(r.withoutIndex())));
    b.append(row(d, "the tag query once more, with the rebuilt index: first event after / ended after", r -> tagRead(r.withIndexAgain())));
    b.append(row(d, "users loaded / expected (every load)", r -> checks(r, x -> n(x.users()) + " / " + n(x.expectedUsers()))));
    b.append(row(d, "keys mapped to the right user / expected (every load)",
        r -> checks(r, x -> n(x.keysRight()) + " / " + n(x.expectedKeys()))));
    b.append(row(d, "building the V3 index on this journal (`CREATE INDEX`)",
        r -> r.indexBuild() == null ? NONE_CELL : s(r.indexBuild().toNanos() / 1e9)));
    long batch = parse(st.get("jdbc-read-journal.journal-sequence-retrieval.batch-size"));
    b.append("\nThe settings this depends on (persistence's `sluice-persistence.conf`, else the plugin's defaults): "
        + "`jdbc-read-journal.journal-sequence-retrieval` `batch-size` = ").append(st.get("jdbc-read-journal.journal-sequence-retrieval.batch-size"))
        .append(", `query-delay` = ").append(st.get("jdbc-read-journal.journal-sequence-retrieval.query-delay"))
        .append(", `max-tries` = ").append(st.get("jdbc-read-journal.journal-sequence-retrieval.max-tries"))
        .append("; `jdbc-read-journal.refresh-interval` = ").append(st.get("jdbc-read-journal.refresh-interval"))
        .append(", `max-buffer-size` = ").append(st.get("jdbc-read-journal.max-buffer-size"))
        .append(". The load ends only when the read journal's JournalSequenceActor has confirmed the ordering numbers up to "
            + "the journal's end: it reads them `batch-size` at a time (")
        .append(batch > 0 ? n(Math.ceil((double) p.events() / batch)) : "?").append(" queries for ").append(n(p.events()))
        .append(" events), and it takes the journal's end as confirmed anyway after `query-delay` × `max-tries`. Until "
            + "then a tag query that returns fewer than `max-buffer-size` events waits `refresh-interval` before the next "
            + "one; the first query runs before the actor has read anything, so the first event comes at least "
            + "`refresh-interval` after the start. The rows *the tag query once more* show this: the time to the first "
            + "event is waiting, the rest is reading `max-buffer-size` events per query.\n\n");
    b.append("**What this means.** ");
    List<String> says = new ArrayList<>();
    for (DbRun r : d.runs()) {
      if (r.withIndex() == null) continue;
      String line = "On " + r.name() + " a cold start loaded the key index (" + n(r.withIndex().runs().get(0).users())
          + " users, " + n(r.withIndex().runs().get(0).keysRight()) + " keys) from a journal of " + n(p.events()) + " events in "
          + JournalReport.coldWithIndex(r).replace(", ", " and ") + " with the tag index";
      if (r.withoutIndex() != null) line += ", " + run(r.withoutIndex(), 0) + " without it";
      line += "; a second load in a warm JVM took " + run(r.withIndex(), 1);
      if (r.withoutIndex() != null) line += " with the index and " + run(r.withoutIndex(), 1) + " without";
      says.add(line);
    }
    b.append(says.isEmpty() ? "Nothing was measured." : String.join(". ", says) + ".");
    b.append(" The load reads only the tagged events: ").append(pct(p.taggedEvents(), p.events())).append(" of this journal. "
        + "`UserActor` is the only actor that tags events, so every row of `event_tag` is one of them and its primary key "
        + "`(event_id, tag)` already finds them in order: the tag-leading V3 index has little to add until events with "
        + "other tags share that table.\n\n");
  }

  static void recovery(StringBuilder b, Data d) {
    JournalPlan p = d.plan();
    b.append("## 3. A user's recovery\n\n");
    b.append("The real `UserActor` (built with `UserSettings.from(config)` and `UserActor.create`) of a user with a long "
        + "history, timed from its spawn until it answers `GetUser`, in a new JVM and actor system on the filled database, "
        + "users one after another. Before the timed users the probe loads the key index and recovers one ordinary user, "
        + "so the journal plugins are running as after a gateway's start. *No snapshot*: ").append(n(p.historyLength()))
        .append(" events, all replayed (what a user whose snapshots are gone costs). *A snapshot*: ").append(n(p.historyLength() - 1))
        .append(" events written by the bench, then the real `UserActor` persisted a key as event ").append(n(p.historyLength()))
        .append(", which made a snapshot (`RetentionCriteria.snapshotEvery(100, 2)`), then ").append(p.appended())
        .append(" more checkpoints: a snapshot and ").append(p.appended()).append(" events to replay, as the previous "
            + "release left its users. ").append(p.subjects()).append(" users of each kind, each probe in its own JVM.\n\n");
    b.append(header(d, ""));
    b.append(row(d, "no snapshot: first user after the start", r -> first(r.plain())));
    b.append(row(d, "no snapshot: median / max of the other " + (p.subjects() - 1), r -> rest(r.plain())));
    b.append(row(d, "a snapshot and " + p.appended() + " events: first user after the start", r -> first(r.snapshot())));
    b.append(row(d, "a snapshot and " + p.appended() + " events: median / max of the other " + (p.subjects() - 1), r -> rest(r.snapshot())));
    b.append(row(d, "answers listing the user's keys (3, or 4 with the snapshot's key)", r -> r.plain() == null || r.snapshot() == null
        ? NONE_CELL : right(r.plain()) + " + " + right(r.snapshot()) + " of " + (r.plain().users().size() + r.snapshot().users().size())));
    b.append(row(d, "before the timed users: key index load; one ordinary user (" + n(p.lengthOf(0)) + " events)",
        r -> r.plain() == null ? NONE_CELL : s(r.plain().indexSeconds()) + "; " + ms(r.plain().warmupMillis())));
    b.append("\n**What this means.** A user's first request after a gateway start, or after its actor was passivated, "
        + "waits for this recovery. ");
    List<String> says = new ArrayList<>();
    for (DbRun r : d.runs()) {
      if (r.plain() == null || r.snapshot() == null) continue;
      says.add("On " + r.name() + " replaying " + n(p.historyLength()) + " events took " + JournalReport.recoveryCell(r.plain())
          + ", a snapshot and " + p.appended() + " events " + JournalReport.recoveryCell(r.snapshot()));
    }
    b.append(says.isEmpty() ? "Nothing was measured." : String.join(". ", says) + ".");
    b.append(" The first user after the start also pays for loading UserActor's code and compiling its recovery path.\n\n");
  }

  static void method(StringBuilder b, Data d) {
    Machine m = d.machine();
    b.append("## Settings\n\n| setting | value |\n|---|---|\n");
    for (String key : JournalBench.SETTINGS) {
      if (d.settings().containsKey(key)) b.append("| `").append(key).append("` | ").append(d.settings().get(key)).append(" |\n");
    }
    b.append("\nThe gateway's defaults: `sluice-persistence.conf` and `sluice.persistence.pool-size`, the plugin's "
        + "reference.conf for the rest; the actor systems use the gateway's dispatcher sizes. PostgreSQL is reached with "
        + "`reWriteBatchedInserts=true` in the JDBC URL.\n\n");
    b.append("## Machine\n\n| | |\n|---|---|\n");
    b.append("| cores (`nproc`) | ").append(m.cores()).append(" |\n");
    b.append("| memory | ").append(m.memory()).append(" |\n");
    b.append("| CPU | ").append(m.cpuModel()).append(" |\n");
    b.append("| `java -version` | ").append(m.java()).append(" |\n");
    b.append("| Linux kernel | ").append(m.kernel()).append(" |\n");
    for (DbRun r : d.runs()) b.append("| ").append(r.name()).append(" | ").append(r.server()).append(" |\n");
    for (DbRun r : d.runs()) {
      List<String> loads = new ArrayList<>();
      r.loads().forEach((step, load) -> loads.add(step + " " + load));
      b.append("| load average (1, 5, 15 min), ").append(r.name()).append(", at the start of each step | ")
          .append(String.join("; ", loads)).append(" |\n");
    }
    b.append("\nEverything ran on this one machine: the bench, its probe JVMs and the database server shared its ")
        .append(m.cores()).append(" cores and disk. H2 is an embedded file in a temporary folder; PostgreSQL is a private "
            + "server started by `bin/pg-sandbox start --durable` (fsync on, PostgreSQL's defaults) unless `--pg-sandbox` "
            + "named a running one.\n\n");
    b.append("## Reproduce\n\n```\n").append(d.command()).append("\n```\n\n");
    b.append("`--events N` sets the journal's size (default ").append(n(JournalPlan.DEFAULT_EVENTS)).append(", `--quick` ")
        .append(n(JournalPlan.QUICK_EVENTS)).append("). This run took ").append(Math.round(d.took().toSeconds() / 6.0) / 10.0)
        .append(" minutes.\n");
  }

  static String pct(long part, long whole) {
    return String.format(java.util.Locale.ROOT, "%.1f %%", 100.0 * part / whole);
  }

  private static String size(DbRun r, String key, Function<Long, String> format) {
    return r.sizes() == null || !r.sizes().containsKey(key) ? NONE_CELL : format.apply(r.sizes().get(key));
  }

  private static String run(IndexResult result, int i) {
    return result == null || result.runs().size() <= i ? NONE_CELL : s(result.runs().get(i).seconds());
  }

  private static String tagRead(IndexResult x) {
    return x == null || x.tagRead() == null ? NONE_CELL : s(x.tagRead().firstEventSeconds()) + " / " + s(x.tagRead().seconds());
  }

  private static String checks(DbRun r, Function<IndexRun, String> cell) {
    List<String> cells = new ArrayList<>();
    for (IndexResult x : new IndexResult[] {r.withIndex(), r.withoutIndex(), r.withIndexAgain()}) {
      if (x != null) x.runs().forEach(run -> cells.add(cell.apply(run)));
    }
    return cells.isEmpty() ? NONE_CELL : cells.stream().distinct().count() == 1 ? cells.get(0) : String.join(", ", cells);
  }

  private static String first(RecoveryResult r) {
    return r == null || r.users().isEmpty() ? NONE_CELL : ms(r.users().get(0).millis());
  }

  private static String rest(RecoveryResult r) {
    if (r == null || r.users().size() < 2) return NONE_CELL;
    List<Double> rest = r.users().subList(1, r.users().size()).stream().map(UserRun::millis).toList();
    return ms(median(rest)) + " / " + ms(max(rest));
  }

  private static long right(RecoveryResult r) { return r.users().stream().filter(u -> u.keys() == u.expectedKeys()).count(); }

  private static long parse(String v) {
    try {
      return Long.parseLong(v);
    } catch (RuntimeException e) {
      return -1;
    }
  }
}
