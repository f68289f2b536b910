package sluice.persistence;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DatabaseMetaData;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Sluice's own schema migrations, one numbered SQL script per step for each dialect
 * ({@code sluice/db/<h2|postgres>/V<n>__<name>.sql}). Every script is idempotent ({@code IF NOT EXISTS}), so a
 * database made by the previous release, which created its tables at start-up without versions, is taken over by
 * running them all. The table {@code sluice_schema_version} records each step; a database with a step this build
 * does not know is refused rather than written with older code. On PostgreSQL each step is one transaction and an
 * advisory lock keeps two gateways starting at once from migrating together.
 */
public final class Migrations {
  private static final Logger LOG = LoggerFactory.getLogger(Migrations.class);
  /** The steps this build knows, in order; a new step is a new script and a new line here, never an edit of one. */
  static final List<Step> STEPS = List.of(
      new Step(1, "journal"),
      new Step(2, "usage"),
      new Step(3, "tag_index"),
      new Step(4, "usage_daily"));
  private static final long LOCK_ID = 0x511CE0001L;

  private Migrations() {}

  /** One step: {@code V<version>__<name>.sql}. */
  record Step(int version, String name) {
    String resource(DatabaseSettings.Type type) { return "/sluice/db/" + type.dialect() + "/V" + version + "__" + name + ".sql"; }
  }

  /** The schema is at a version this build does not know: a newer Sluice migrated it. */
  public static final class NewerSchema extends Exception {
    private static final long serialVersionUID = 1L;

    NewerSchema(int found, int latest) {
      super("the database schema is at version " + found + ", newer than this Sluice knows (" + latest
          + "): run the Sluice release that migrated it, or restore a backup made before");
    }
  }

  /** The schema lacks steps and {@code sluice.persistence.migrate} is off. */
  public static final class SchemaBehind extends Exception {
    private static final long serialVersionUID = 1L;

    SchemaBehind(int found, int latest) {
      super("the database schema is at version " + found + " and this Sluice needs " + latest
          + ": run `bin/sluice db migrate --config FILE` (or set sluice.persistence.migrate = on)");
    }
  }

  /** @param before the version found; @param after the version now; @param applied the steps run */
  public record Result(int before, int after, List<String> applied) {}

  public static int latest() { return STEPS.get(STEPS.size() - 1).version(); }

  /** Runs the missing steps. */
  public static Result migrate(DatabaseSettings db) throws SQLException, NewerSchema {
    try (Connection c = db.connect()) {
      boolean pg = db.type() == DatabaseSettings.Type.POSTGRES;
      if (pg) exec(c, "SELECT pg_advisory_lock(" + LOCK_ID + ")");
      try {
        exec(c, "CREATE TABLE IF NOT EXISTS sluice_schema_version (version INTEGER PRIMARY KEY, "
            + "description VARCHAR(256) NOT NULL, applied_at TIMESTAMP WITH TIME ZONE NOT NULL)");
        int before = current(c);
        if (before > latest()) throw new NewerSchema(before, latest());
        List<String> applied = new ArrayList<>();
        for (Step step : STEPS) {
          if (step.version() <= before) continue;
          apply(c, db.type(), step);
          applied.add("V" + step.version() + " " + step.name());
        }
        if (!applied.isEmpty()) LOG.info("database schema migrated from version {} to {}: {}", before, latest(), applied);
        return new Result(before, Math.max(before, latest()), List.copyOf(applied));
      } finally {
        if (pg) exec(c, "SELECT pg_advisory_unlock(" + LOCK_ID + ")");
      }
    }
  }

  /** Checks without changing anything: the version found, or an exception saying what to do. */
  public static int check(DatabaseSettings db) throws SQLException, NewerSchema, SchemaBehind {
    int found = version(db);
    if (found > latest()) throw new NewerSchema(found, latest());
    if (found < latest()) throw new SchemaBehind(found, latest());
    return found;
  }

  /** The version the database is at; 0 for an empty database or one the previous release made. */
  public static int version(DatabaseSettings db) throws SQLException {
    try (Connection c = db.connect()) {
      return hasVersionTable(c) ? current(c) : 0;
    }
  }

  private static boolean hasVersionTable(Connection c) throws SQLException {
    DatabaseMetaData meta = c.getMetaData();
    for (String name : List.of("sluice_schema_version", "SLUICE_SCHEMA_VERSION")) {
      try (ResultSet rs = meta.getTables(null, null, name, new String[] {"TABLE"})) {
        if (rs.next()) return true;
      }
    }
    return false;
  }

  private static int current(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT MAX(version) FROM sluice_schema_version")) {
      rs.next();
      return rs.getInt(1);
    }
  }

  private static void apply(Connection c, DatabaseSettings.Type type, Step step) throws SQLException {
    boolean auto = c.getAutoCommit();
    c.setAutoCommit(false);
    try {
      for (String sql : statements(script(step.resource(type)))) exec(c, sql);
      try (PreparedStatement ps = c.prepareStatement(
          "INSERT INTO sluice_schema_version (version, description, applied_at) VALUES (?, ?, ?)")) {
        ps.setInt(1, step.version());
        ps.setString(2, step.name());
        ps.setObject(3, OffsetDateTime.now(ZoneOffset.UTC));
        ps.executeUpdate();
      }
      c.commit();
    } catch (SQLException e) {
      c.rollback();
      throw new SQLException("migration V" + step.version() + " (" + step.name() + ") failed: " + e.getMessage(), e.getSQLState(), e);
    } finally {
      c.setAutoCommit(auto);
    }
  }

  private static String script(String resource) {
    try (InputStream in = Migrations.class.getResourceAsStream(resource)) {
      if (in == null) throw new IllegalStateException("migration script missing from the jar: " + resource);
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new IllegalStateException("cannot read " + resource, e);
    }
  }

  /** The script's statements: split at a ';' that ends a line, with comment lines left out (our scripts only). */
  static List<String> statements(String script) {
    StringBuilder code = new StringBuilder();
    for (String line : script.split("\n")) {
      if (!line.strip().startsWith("--")) code.append(line).append('\n');
    }
    return Arrays.stream(code.toString().split(";\\s*\n")).map(String::strip).filter(s -> !s.isEmpty())
        .map(s -> s.endsWith(";") ? s.substring(0, s.length() - 1) : s).toList();
  }

  private static void exec(Connection c, String sql) throws SQLException {
    try (Statement s = c.createStatement()) {
      s.execute(sql);
    }
  }
}
