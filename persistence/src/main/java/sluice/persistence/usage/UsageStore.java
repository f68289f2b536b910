package sluice.persistence.usage;

import com.fasterxml.jackson.core.StreamWriteFeature;
import com.fasterxml.jackson.databind.SequenceWriter;
import com.fasterxml.jackson.databind.util.RawValue;
import com.fasterxml.jackson.dataformat.csv.CsvGenerator;
import com.fasterxml.jackson.dataformat.csv.CsvMapper;
import com.fasterxml.jackson.dataformat.csv.CsvSchema;
import com.typesafe.config.Config;
import java.io.IOException;
import java.io.OutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Types;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import sluice.persistence.DatabaseSettings;

/**
 * The {@code sluice_usage} table, in the journal's database ({@code pekko-persistence-jdbc.shared-databases.slick.db}):
 * embedded H2 by default, PostgreSQL in production; for totals also {@code sluice_usage_daily}, into which
 * {@link UsageRollUp} folds the records older than the retention. Plain JDBC: one long-lived connection for the single
 * writer (reopened after a failure), a short-lived one per query. Every statement is prepared; the SQL is portable
 * between H2 2.x and PostgreSQL 10+.
 */
public final class UsageStore implements UsageSink {
  private static final int FETCH_SIZE = 1000;
  private static final int MAX_LIMIT = 100_000;

  private static final String COLUMNS = "request_id, user_id, key_id, model, endpoint, job_id, stream, status, "
      + "prompt_tokens, completion_tokens, ttft_ms, duration_ms, client_disconnected, server_shutdown, started_at";
  private static final String INSERT = "INSERT INTO sluice_usage (" + COLUMNS + ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";

  // Every text cell quoted (quotes doubled), so a cell never runs into the next; numbers and booleans stay bare.
  private static final CsvMapper CSV = CsvMapper.builder().disable(StreamWriteFeature.AUTO_CLOSE_TARGET)
      .enable(CsvGenerator.Feature.ALWAYS_QUOTE_STRINGS).build();
  /** An empty, unquoted cell: a number that is not there (a quoted "" would be text). */
  private static final Object NO_NUMBER = new RawValue("");
  private static final CsvSchema CSV_SCHEMA = CsvSchema.builder()
      .addColumn("request_id").addColumn("user").addColumn("key_id").addColumn("model").addColumn("endpoint")
      .addColumn("job_id").addColumn("stream").addColumn("status").addColumn("prompt_tokens")
      .addColumn("completion_tokens").addColumn("total_tokens").addColumn("ttft_ms").addColumn("duration_ms")
      .addColumn("client_disconnected").addColumn("server_shutdown").addColumn("started_at")
      .setUseHeader(true).build();

  private final DatabaseSettings db;
  private final Object writeLock = new Object();
  private Connection writer;                                            // guarded by writeLock; null until needed
  private boolean closed;                                               // guarded by writeLock
  private final WriteProbe probe;

  private UsageStore(DatabaseSettings db) {
    this.db = db;
    this.probe = new WriteProbe(this::connect);
  }

  /** The journal's database ({@code sluice.persistence}); its tables come from {@link sluice.persistence.Migrations}. */
  public static UsageStore open(Config root) { return open(DatabaseSettings.from(root)); }

  public static UsageStore open(DatabaseSettings db) { return new UsageStore(db); }

  private Connection connect() throws SQLException { return db.connect(); }

  /** Stores the batch in one transaction; after a failure the connection is dropped and the next call reconnects. */
  @Override public void insert(List<UsageRecord> batch) throws SQLException {
    if (batch.isEmpty()) return;
    synchronized (writeLock) {
      if (closed) throw new IllegalStateException("usage store is closed");
      try {
        if (writer == null) {
          writer = connect();
          writer.setAutoCommit(false);
        }
        try (PreparedStatement ps = writer.prepareStatement(INSERT)) {
          for (UsageRecord r : batch) {
            bindRecord(ps, r);
            ps.addBatch();
          }
          ps.executeBatch();
        }
        writer.commit();
      } catch (SQLException | RuntimeException | Error e) {
        dropWriter();                                                 // whatever broke, the next batch reconnects
        throw e;
      }
    }
  }

  /** One small committed write: {@link sluice.persistence.StorageHealth}'s probe (see {@link WriteProbe}). */
  public void probe() throws SQLException {
    if (closed()) throw new IllegalStateException("usage store is closed");
    probe.write();
  }

  private boolean closed() {
    synchronized (writeLock) {
      return closed;
    }
  }

  private void dropWriter() {
    if (writer == null) return;
    try {
      writer.rollback();
    } catch (SQLException ignored) {
      // the connection is broken anyway
    }
    try {
      writer.close();
    } catch (SQLException ignored) {
      // nothing left to release
    }
    writer = null;
  }

  private static void bindRecord(PreparedStatement ps, UsageRecord r) throws SQLException {
    ps.setString(1, r.requestId());
    ps.setString(2, r.userId());
    ps.setString(3, r.keyId());
    ps.setString(4, r.model());
    ps.setString(5, r.endpoint());
    if (r.jobId() == null) ps.setNull(6, Types.VARCHAR); else ps.setString(6, r.jobId());
    ps.setBoolean(7, r.stream());
    ps.setInt(8, r.status());
    ps.setLong(9, r.promptTokens());
    ps.setLong(10, r.completionTokens());
    if (r.timeToFirstToken() == null) ps.setNull(11, Types.BIGINT); else ps.setLong(11, r.timeToFirstToken().toMillis());
    ps.setLong(12, r.duration().toMillis());
    ps.setBoolean(13, r.clientDisconnected());
    ps.setBoolean(14, r.serverShutdown());
    ps.setObject(15, timestamp(r.startedAt()));
  }

  // Both databases keep microseconds.
  private static OffsetDateTime timestamp(Instant i) { return OffsetDateTime.ofInstant(i.truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC); }

  // Stored times are whole microseconds, so "t >= bound" and "t < bound" hold exactly against the bound rounded up.
  private static OffsetDateTime bound(Instant i) {
    Instant down = i.truncatedTo(ChronoUnit.MICROS);
    return OffsetDateTime.ofInstant(down.equals(i) ? i : down.plus(1, ChronoUnit.MICROS), ZoneOffset.UTC);
  }

  /**
   * Totals over everything the filter matches, and per (user, model) ordered by user, then model: the records still
   * kept plus the daily totals of the days {@link UsageRollUp} folded (one statement, so one consistent view of both
   * tables even while a day is being folded). A record is in one of the two tables, never both, so totals over whole
   * days are the same before and after a roll-up.
   *
   * @throws RolledUpPeriod when {@code from} or {@code to} falls inside a folded day, not on its midnight
   */
  public UsageSummary summary(UsageFilter f) throws SQLException, RolledUpPeriod {
    Where raw = Where.of(f);
    Where daily = Where.days(f);
    String sql = "SELECT user_id, model, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(failed_requests),"
        + " SUM(client_disconnected) FROM ("
        + "SELECT user_id, model, COUNT(*) AS requests, SUM(prompt_tokens) AS prompt_tokens,"
        + " SUM(completion_tokens) AS completion_tokens, SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END) AS failed_requests,"
        + " SUM(CASE WHEN client_disconnected THEN 1 ELSE 0 END) AS client_disconnected FROM sluice_usage" + raw.sql()
        + " GROUP BY user_id, model UNION ALL"
        + " SELECT user_id, model, SUM(requests), SUM(prompt_tokens), SUM(completion_tokens), SUM(failed_requests),"
        + " SUM(client_disconnected) FROM sluice_usage_daily" + daily.sql() + " GROUP BY user_id, model"
        + ") t GROUP BY user_id, model";
    List<UsageSummary.Group> groups = new ArrayList<>();
    try (Connection c = connect()) {
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        daily.bind(ps, raw.bind(ps, 1));
        try (ResultSet rs = ps.executeQuery()) {
          while (rs.next()) {
            long prompt = rs.getLong(4);
            long completion = rs.getLong(5);
            groups.add(new UsageSummary.Group(rs.getString(1), rs.getString(2), new UsageSummary.Totals(
                rs.getLong(3), prompt, completion, prompt + completion, rs.getLong(6), rs.getLong(7))));
          }
        }
      }
      // After the sums: a day folded since then is refused too, and folded days are never unfolded, so an answer
      // that passes this check is exact.
      requireWholeFoldedDays(c, "from", f.from());
      requireWholeFoldedDays(c, "to", f.to());
    }
    // Sorted here, not by the database: PostgreSQL's collation depends on its locale.
    groups.sort(Comparator.comparing(UsageSummary.Group::user).thenComparing(UsageSummary.Group::model));
    UsageSummary.Totals total = groups.stream().map(UsageSummary.Group::totals).reduce(UsageSummary.Totals.ZERO, UsageSummary.Totals::plus);
    return new UsageSummary(total, groups);
  }

  /** A bound inside a day (not its midnight) whose records were folded: that day's part cannot be counted. */
  private static void requireWholeFoldedDays(Connection c, String name, Optional<Instant> bound) throws SQLException, RolledUpPeriod {
    if (bound.isEmpty() || Where.midnight(bound.get())) return;
    LocalDate day = LocalDate.ofInstant(bound.get(), ZoneOffset.UTC);
    try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM sluice_usage_daily WHERE day_utc = ? LIMIT 1")) {
      ps.setObject(1, day);
      try (ResultSet rs = ps.executeQuery()) {
        if (rs.next()) throw new RolledUpPeriod(name, bound.get(), day);
      }
    }
  }

  /** The newest {@code limit} (1..100000) matching records still kept (not folded), newest first. */
  public List<UsageRecord> records(UsageFilter f, int limit) throws SQLException {
    if (limit < 1 || limit > MAX_LIMIT) throw new IllegalArgumentException("limit must be between 1 and " + MAX_LIMIT + ": " + limit);
    Where w = Where.of(f);
    String sql = "SELECT " + COLUMNS + " FROM sluice_usage" + w.sql() + " ORDER BY started_at DESC, id DESC LIMIT ?";
    List<UsageRecord> out = new ArrayList<>();
    try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(sql)) {
      int next = w.bind(ps, 1);
      ps.setInt(next, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(read(rs));
      }
    }
    return out;
  }

  /**
   * Per model and UTC minute over [{@code from}, {@code to}): requests, errors (status 400 or more) and the median time
   * to first token; minutes without requests are left out. For the operator dashboard's last hour, which the retention
   * (at least a day) never folds. {@code DATE_TRUNC} and {@code PERCENTILE_CONT … WITHIN GROUP} mean the same on H2 2.x
   * and PostgreSQL; ordered by model, then minute.
   */
  public List<TrafficMinute> traffic(Instant from, Instant to) throws SQLException {
    String minute = "DATE_TRUNC('minute', started_at)";
    String sql = "SELECT model, " + minute + ", COUNT(*), SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END),"
        + " PERCENTILE_CONT(0.5) WITHIN GROUP (ORDER BY ttft_ms) FROM sluice_usage"
        + " WHERE started_at >= ? AND started_at < ? GROUP BY model, " + minute;
    List<TrafficMinute> out = new ArrayList<>();
    try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, bound(from));
      ps.setObject(2, bound(to));
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) {
          double p50 = rs.getDouble(5);
          Double ttft = rs.wasNull() ? null : p50;
          out.add(new TrafficMinute(rs.getString(1), rs.getObject(2, OffsetDateTime.class).toInstant(), rs.getLong(3),
              rs.getLong(4), ttft));
        }
      }
    }
    // Sorted here, not by the database: PostgreSQL's collation depends on its locale.
    out.sort(Comparator.comparing(TrafficMinute::model).thenComparing(TrafficMinute::minute));
    return out;
  }

  /**
   * The {@code limit} (1..1000) users with the most tokens (prompt plus completion) over [{@code from}, {@code to}),
   * most first, ties by user id. Only records still kept are counted: for the dashboard's "today", never folded.
   */
  public List<UserTokens> topUsers(Instant from, Instant to, int limit) throws SQLException {
    if (limit < 1 || limit > 1000) throw new IllegalArgumentException("limit must be between 1 and 1000: " + limit);
    String sql = "SELECT user_id, SUM(prompt_tokens + completion_tokens) AS tokens, COUNT(*) FROM sluice_usage"
        + " WHERE started_at >= ? AND started_at < ? GROUP BY user_id ORDER BY tokens DESC LIMIT ?";
    List<UserTokens> out = new ArrayList<>();
    try (Connection c = connect(); PreparedStatement ps = c.prepareStatement(sql)) {
      ps.setObject(1, bound(from));
      ps.setObject(2, bound(to));
      ps.setInt(3, limit);
      try (ResultSet rs = ps.executeQuery()) {
        while (rs.next()) out.add(new UserTokens(rs.getString(1), rs.getLong(2), rs.getLong(3)));
      }
    }
    out.sort(Comparator.comparingLong(UserTokens::tokens).reversed().thenComparing(UserTokens::user));
    return out;
  }

  /**
   * Writes every matching record still kept (not folded) as CSV, oldest first, with a header row, streaming from a database cursor. Does not
   * close {@code out}. started_at is ISO-8601 in UTC; ttft_ms is empty when no token came.
   */
  public void exportCsv(UsageFilter f, OutputStream out) throws SQLException, IOException {
    Where w = Where.of(f);
    String sql = "SELECT " + COLUMNS + " FROM sluice_usage" + w.sql() + " ORDER BY started_at, id";
    try (Connection c = connect()) {
      c.setAutoCommit(false);                                        // PostgreSQL uses a cursor only inside a transaction
      c.setReadOnly(true);
      try (PreparedStatement ps = c.prepareStatement(sql)) {
        ps.setFetchSize(FETCH_SIZE);
        w.bind(ps, 1);
        try (ResultSet rs = ps.executeQuery(); SequenceWriter csv = CSV.writer(CSV_SCHEMA).writeValues(out)) {
          while (rs.next()) {
            UsageRecord r = read(rs);
            // Empty strings, not nulls: within an array row the CSV generator skips a null, shifting the columns.
            csv.write(new Object[] {cell(r.requestId()), cell(r.userId()), cell(r.keyId()), cell(r.model()),
                cell(r.endpoint()), r.jobId() == null ? "" : cell(r.jobId()), r.stream(), r.status(), r.promptTokens(),
                r.completionTokens(), r.totalTokens(), r.timeToFirstToken() == null ? NO_NUMBER : r.timeToFirstToken().toMillis(),
                r.duration().toMillis(), r.clientDisconnected(), r.serverShutdown(), r.startedAt().toString()});
          }
        }
      } finally {
        c.rollback();
      }
    }
  }

  /**
   * A text cell a spreadsheet shows as text: one that starts like a formula ({@code = + - @}, tab or CR) gets a leading
   * single quote (OWASP's CSV injection rule). Model names and request ids are the client's own text. A lone "-" (the
   * record's "no value") is left alone: it is no formula.
   */
  static String cell(String text) {
    if (text.isEmpty() || text.equals("-")) return text;
    return switch (text.charAt(0)) {
      case '=', '+', '-', '@', '\t', '\r' -> "'" + text;
      default -> text;
    };
  }

  private static UsageRecord read(ResultSet rs) throws SQLException {
    Long ttft = rs.getObject("ttft_ms", Long.class);
    return new UsageRecord(rs.getString("request_id"), rs.getString("user_id"), rs.getString("key_id"),
        rs.getString("model"), rs.getString("endpoint"), rs.getString("job_id"), rs.getBoolean("stream"),
        rs.getInt("status"), rs.getLong("prompt_tokens"), rs.getLong("completion_tokens"),
        ttft == null ? null : Duration.ofMillis(ttft), Duration.ofMillis(rs.getLong("duration_ms")),
        rs.getBoolean("client_disconnected"), rs.getBoolean("server_shutdown"),
        rs.getObject("started_at", OffsetDateTime.class).toInstant());
  }

  /** Closes the writer's connection; queries still work (each opens its own), inserts fail. */
  @Override public void close() {
    synchronized (writeLock) {
      closed = true;
      if (writer != null) {
        try {
          writer.close();
        } catch (SQLException ignored) {
          // closing anyway
        }
        writer = null;
      }
    }
  }

  /** A WHERE clause made of fixed fragments; the filter's values only ever reach the statement as parameters. */
  private record Where(String sql, List<Object> params) {
    static Where of(UsageFilter f) {
      Objects.requireNonNull(f, "filter is required (UsageFilter.all() for everything)");
      List<String> parts = new ArrayList<>();
      List<Object> params = new ArrayList<>();
      f.user().ifPresent(u -> { parts.add("user_id = ?"); params.add(u); });
      f.model().ifPresent(m -> { parts.add("model = ?"); params.add(m); });
      f.from().ifPresent(t -> { parts.add("started_at >= ?"); params.add(bound(t)); });
      f.to().ifPresent(t -> { parts.add("started_at < ?"); params.add(bound(t)); });
      return new Where(parts.isEmpty() ? "" : " WHERE " + String.join(" AND ", parts), params);
    }

    /** The daily totals of the whole days inside the filter's period (a day cut by a bound is left out). */
    static Where days(UsageFilter f) {
      List<String> parts = new ArrayList<>();
      List<Object> params = new ArrayList<>();
      f.user().ifPresent(u -> { parts.add("user_id = ?"); params.add(u); });
      f.model().ifPresent(m -> { parts.add("model = ?"); params.add(m); });
      f.from().ifPresent(t -> {
        LocalDate day = LocalDate.ofInstant(t, ZoneOffset.UTC);
        parts.add("day_utc >= ?");
        params.add(midnight(t) ? day : day.plusDays(1));
      });
      f.to().ifPresent(t -> { parts.add("day_utc < ?"); params.add(LocalDate.ofInstant(t, ZoneOffset.UTC)); });
      return new Where(parts.isEmpty() ? "" : " WHERE " + String.join(" AND ", parts), params);
    }

    static boolean midnight(Instant t) { return t.equals(t.truncatedTo(ChronoUnit.DAYS)); }

    /** Binds the parameters from {@code first}; returns the next free index. */
    int bind(PreparedStatement ps, int first) throws SQLException {
      int i = first;
      for (Object p : params) {
        if (p instanceof String s) ps.setString(i++, s); else ps.setObject(i++, p);
      }
      return i;
    }
  }
}
