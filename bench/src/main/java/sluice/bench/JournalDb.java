package sluice.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Stream;
import sluice.persistence.DatabaseSettings;

/**
 * One database the journal bench fills: the embedded H2 file in a temporary folder, or a database on PostgreSQL (a
 * {@code bin/pg-sandbox start --durable} the bench starts and stops, or a running sandbox it only adds a database to).
 * Its {@code sluice.persistence} settings are written to a file the probe JVMs read as a gateway reads its config.
 */
final class JournalDb implements AutoCloseable {
  /** The V3 migration's index, dropped and made again to show what it buys. */
  static final String TAG_INDEX = "event_tag_tag_event_id_idx";
  private static final String ROLE = "sluice_bench";

  private final String name;
  private final Path dataDir;
  private final Path confFile;
  private final Config config;
  private final Runnable cleanUp;
  private final AtomicBoolean closed = new AtomicBoolean();

  private JournalDb(String name, Path dataDir, Map<String, Object> settings, Runnable cleanUp) throws IOException {
    this.name = name;
    this.dataDir = dataDir;
    this.cleanUp = cleanUp;
    this.config = ConfigFactory.parseMap(settings);
    this.confFile = dataDir.resolve("database.conf");
    Files.writeString(confFile, config.root().render(ConfigRenderOptions.concise().setFormatted(true)));
  }

  /** An H2 file under a new temporary folder, deleted on close. */
  static JournalDb h2() throws IOException {
    Path dir = Files.createTempDirectory("sluice-journal-bench-h2");
    Map<String, Object> m = new HashMap<>();
    m.put("sluice.data-dir", dir.toString());
    m.put("sluice.persistence.type", "h2");
    return new JournalDb("H2", dir, m, () -> deleteTree(dir));
  }

  /**
   * A new database on PostgreSQL, owned by an ordinary role as in production. With {@code sandboxDir} null the bench
   * starts a durable sandbox (fsync on) and stops and deletes it on close; otherwise it drops its database on close.
   */
  static JournalDb postgres(Path home, String sandboxDir, PrintStream err) throws IOException, SQLException {
    Path sandbox;
    boolean ours = sandboxDir == null || sandboxDir.isBlank();
    if (ours) {
      err.println("bench: starting a durable PostgreSQL sandbox (bin/pg-sandbox start --durable)");
      sandbox = Path.of(run(List.of(home.resolve("bin/pg-sandbox").toString(), "start", "--durable"), err));
    } else {
      sandbox = Path.of(sandboxDir);
    }
    Map<String, String> env = env(sandbox);
    String server = "jdbc:postgresql://" + env.get("PGHOST") + ":" + env.get("PGPORT") + "/";
    String db = "journal_bench_" + ProcessHandle.current().pid();
    byte[] secret = new byte[18];
    new SecureRandom().nextBytes(secret);
    String password = HexFormat.of().formatHex(secret);
    try (Connection c = DriverManager.getConnection(server + "postgres", env.get("PGUSER"), env.get("PGPASSWORD"));
         Statement s = c.createStatement()) {
      try {
        s.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + password + "'");
      } catch (SQLException e) {
        if (!"42710".equals(e.getSQLState())) throw e;                  // made by an earlier run
        s.execute("ALTER ROLE " + ROLE + " PASSWORD '" + password + "'");
      }
      s.execute("DROP DATABASE IF EXISTS " + db);
      s.execute("CREATE DATABASE " + db + " OWNER " + ROLE);
    }
    Path dir = Files.createTempDirectory("sluice-journal-bench-pg");
    Path passwordFile = dir.resolve("db-password");
    Files.writeString(passwordFile, password + "\n");
    Files.setPosixFilePermissions(passwordFile, PosixFilePermissions.fromString("rw-------"));
    Map<String, Object> m = new HashMap<>();
    m.put("sluice.data-dir", dir.toString());
    m.put("sluice.persistence.type", "postgres");
    // reWriteBatchedInserts: the driver sends a JDBC batch as multi-row inserts (pekko-persistence-jdbc's advice).
    m.put("sluice.persistence.url", server + db + "?reWriteBatchedInserts=true");
    m.put("sluice.persistence.user", ROLE);
    m.put("sluice.persistence.password-file", passwordFile.toString());
    return new JournalDb("PostgreSQL", dir, m, () -> {
      if (ours) {
        run(List.of(home.resolve("bin/pg-sandbox").toString(), "stop", sandbox.toString()), err);
        deleteTree(sandbox);
      } else {
        try (Connection c = DriverManager.getConnection(server + "postgres", env.get("PGUSER"), env.get("PGPASSWORD"));
             Statement s = c.createStatement()) {
          s.execute("DROP DATABASE IF EXISTS " + db);
        } catch (SQLException e) {
          err.println("bench: could not drop the database " + db + " on the sandbox: " + e.getMessage());
        }
      }
      deleteTree(dir);
    });
  }

  String name() { return name; }

  boolean postgres() { return name.equals("PostgreSQL"); }

  /** The {@code sluice.persistence} (and {@code sluice.data-dir}) settings: lay them over a gateway's config. */
  Config config() { return config; }

  Path confFile() { return confFile; }

  Path dataDir() { return dataDir; }

  DatabaseSettings settings() {
    return DatabaseSettings.from(config.withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))
        .withFallback(ConfigFactory.defaultReference()).resolve());
  }

  Connection connect() throws SQLException { return settings().connect(); }

  /** Product and version, and for PostgreSQL the settings that decide what a commit costs. */
  String describe() throws SQLException {
    try (Connection c = connect()) {
      String v = c.getMetaData().getDatabaseProductName() + " " + c.getMetaData().getDatabaseProductVersion();
      if (!postgres()) return v + " (embedded file, WRITE_DELAY=0)";
      List<String> shown = new ArrayList<>();
      for (String setting : List.of("fsync", "synchronous_commit", "full_page_writes", "shared_buffers")) {
        shown.add(setting + "=" + query(c, "SHOW " + setting));
      }
      return v + " (" + String.join(", ", shown) + ")";
    }
  }

  /** Refreshes the planner's statistics after the fill, as autovacuum (PostgreSQL) or H2's auto-analyze would in time. */
  Duration analyze() throws SQLException {
    long t0 = System.nanoTime();
    try (Connection c = connect(); Statement s = c.createStatement()) {
      if (postgres()) {
        s.execute("VACUUM ANALYZE event_journal");
        s.execute("VACUUM ANALYZE event_tag");
      } else {
        s.execute("ANALYZE");
      }
    }
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  /**
   * Rows and sizes. H2 keeps the payloads (BLOB columns) in its LOB store, which its per-table count
   * ({@code DISK_SPACE_USED}) leaves out: for H2 only the file's size, read after the connection closed the database.
   */
  Map<String, Long> sizes() throws SQLException, IOException {
    Map<String, Long> m = new LinkedHashMap<>();
    try (Connection c = connect()) {
      m.put("event_journal rows", Long.parseLong(query(c, "SELECT COUNT(*) FROM event_journal")));
      m.put("event_tag rows", Long.parseLong(query(c, "SELECT COUNT(*) FROM event_tag")));
      if (postgres()) {
        for (String table : List.of("event_journal", "event_tag")) {
          m.put(table + " bytes", Long.parseLong(query(c, "SELECT pg_total_relation_size('" + table + "')")));
        }
        m.put("database bytes", Long.parseLong(query(c, "SELECT pg_database_size(current_database())")));
      }
    }
    if (!postgres()) {
      Path file = dataDir.resolve("sluice.mv.db");
      if (Files.exists(file)) m.put("database bytes", Files.size(file));
    }
    return m;
  }

  boolean hasSnapshot(String persistenceId) throws SQLException {
    try (Connection c = connect();
         var ps = c.prepareStatement("SELECT COUNT(*) FROM snapshot WHERE persistence_id = ?")) {
      ps.setString(1, persistenceId);
      try (ResultSet rs = ps.executeQuery()) {
        rs.next();
        return rs.getLong(1) > 0;
      }
    }
  }

  void dropTagIndex() throws SQLException {
    exec(postgres() ? "DROP INDEX IF EXISTS " + TAG_INDEX : "DROP INDEX IF EXISTS PUBLIC.\"" + TAG_INDEX + "\"");
  }

  /** Runs the V3 migration's statement again: how long the index takes to build on this journal. */
  Duration createTagIndex() throws SQLException, IOException {
    String resource = "/sluice/db/" + (postgres() ? "postgres" : "h2") + "/V3__tag_index.sql";
    String sql;
    try (InputStream in = DatabaseSettings.class.getResourceAsStream(resource)) {
      if (in == null) throw new IOException("missing from the jar: " + resource);
      sql = new String(in.readAllBytes(), StandardCharsets.UTF_8).lines()
          .filter(l -> !l.strip().startsWith("--")).reduce("", (a, b) -> a + b + "\n").strip();
    }
    if (sql.endsWith(";")) sql = sql.substring(0, sql.length() - 1);
    long t0 = System.nanoTime();
    exec(sql);
    return Duration.ofNanos(System.nanoTime() - t0);
  }

  private void exec(String sql) throws SQLException {
    try (Connection c = connect(); Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }

  private static String query(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
      rs.next();
      return rs.getString(1);
    }
  }

  /** Deletes what the bench made (and stops the sandbox it started); once, whoever calls first (a Ctrl-C hook). */
  @Override public void close() {
    if (closed.compareAndSet(false, true)) cleanUp.run();
  }

  private static Map<String, String> env(Path sandbox) throws IOException {
    Map<String, String> env = new HashMap<>();
    for (String line : Files.readAllLines(sandbox.resolve("pg.env"))) {
      int eq = line.indexOf('=');
      if (eq > 0) env.put(line.substring(0, eq), line.substring(eq + 1));
    }
    for (String k : List.of("PGHOST", "PGPORT", "PGUSER", "PGPASSWORD")) {
      if (!env.containsKey(k)) throw new IOException(sandbox.resolve("pg.env") + " has no " + k);
    }
    return env;
  }

  /** Runs a script with its stderr passed on; its stdout's last line. */
  private static String run(List<String> command, PrintStream err) {
    try {
      Process p = new ProcessBuilder(command).redirectError(ProcessBuilder.Redirect.INHERIT).start();
      String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
      if (!p.waitFor(5, TimeUnit.MINUTES) || p.exitValue() != 0) throw new IllegalStateException(String.join(" ", command) + " failed");
      String[] lines = out.split("\n");
      return lines[lines.length - 1].strip();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run " + command.get(0) + ": " + e.getMessage(), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }

  static void deleteTree(Path dir) {
    if (!Files.exists(dir)) return;
    try (Stream<Path> all = Files.walk(dir)) {
      for (Path p : all.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    } catch (IOException e) {
      System.err.println("bench: could not delete " + dir + ": " + e.getMessage());
    }
  }
}
