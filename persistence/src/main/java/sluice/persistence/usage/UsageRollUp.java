package sluice.persistence.usage;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigValueType;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import sluice.persistence.DatabaseSettings;

/**
 * Usage retention ({@code sluice.usage.retention}): the records of every whole UTC day older than the retention are
 * folded into per-day totals ({@code sluice_usage_daily}, one row per day, user, key and model) and deleted.
 *
 * <p>One transaction per day, oldest first: it deletes the day's records, totals exactly the rows it deleted, and adds
 * those totals to the day's rows (adding, not replacing, so records that arrive for a day already folded are added on
 * a later run). A crash or a failed statement rolls the whole day back, so a record is always counted once, either
 * raw or in a daily row. A transaction holds one day, never the backlog: a year's backlog is a year of short
 * transactions, and row locks only on records nothing else writes.
 *
 * <p>Several gateways on one PostgreSQL database: each day's transaction first takes
 * {@code pg_try_advisory_xact_lock}; a gateway that does not get it ends its run and leaves the folding to the one that
 * has it. Even without the lock, two runs could not count a record twice: a transaction totals only the rows its own
 * DELETE removed, and PostgreSQL's DELETE skips rows another transaction deleted first.
 */
public final class UsageRollUp {
  private static final Logger LOG = LoggerFactory.getLogger(UsageRollUp.class);
  private static final long LOCK_ID = 0x511CE0002L;
  private static final String BASE = "sluice.usage";

  private static final String DELETE_DAY = "DELETE FROM sluice_usage WHERE started_at >= ? AND started_at < ?";
  private static final String TOTALS = "SELECT user_id, key_id, model, COUNT(*), SUM(prompt_tokens), SUM(completion_tokens),"
      + " SUM(CASE WHEN status >= 400 THEN 1 ELSE 0 END), SUM(CASE WHEN client_disconnected THEN 1 ELSE 0 END)"
      + " FROM %s GROUP BY user_id, key_id, model";
  // The day's records, deleted, as totals per (user, key, model): exactly the rows this statement removed.
  private static final String TAKE_H2 = TOTALS.formatted("OLD TABLE (" + DELETE_DAY + ")");
  private static final String TAKE_PG = "WITH moved AS (" + DELETE_DAY + " RETURNING user_id, key_id, model, status,"
      + " prompt_tokens, completion_tokens, client_disconnected) " + TOTALS.formatted("moved");
  private static final String ADD_H2 = "MERGE INTO sluice_usage_daily d USING (VALUES (CAST(? AS DATE),"
      + " CAST(? AS VARCHAR(256)), CAST(? AS VARCHAR(256)), CAST(? AS VARCHAR(256)), CAST(? AS BIGINT), CAST(? AS BIGINT),"
      + " CAST(? AS BIGINT), CAST(? AS BIGINT), CAST(? AS BIGINT))) AS m (day_utc, user_id, key_id, model, requests,"
      + " prompt_tokens, completion_tokens, failed_requests, client_disconnected)"
      + " ON d.day_utc = m.day_utc AND d.user_id = m.user_id AND d.key_id = m.key_id AND d.model = m.model"
      + " WHEN MATCHED THEN UPDATE SET requests = d.requests + m.requests, prompt_tokens = d.prompt_tokens + m.prompt_tokens,"
      + " completion_tokens = d.completion_tokens + m.completion_tokens, failed_requests = d.failed_requests + m.failed_requests,"
      + " client_disconnected = d.client_disconnected + m.client_disconnected"
      + " WHEN NOT MATCHED THEN INSERT (day_utc, user_id, key_id, model, requests, prompt_tokens, completion_tokens,"
      + " failed_requests, client_disconnected) VALUES (m.day_utc, m.user_id, m.key_id, m.model, m.requests,"
      + " m.prompt_tokens, m.completion_tokens, m.failed_requests, m.client_disconnected)";
  private static final String ADD_PG = "INSERT INTO sluice_usage_daily AS d (day_utc, user_id, key_id, model, requests,"
      + " prompt_tokens, completion_tokens, failed_requests, client_disconnected) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
      + " ON CONFLICT (day_utc, user_id, key_id, model) DO UPDATE SET requests = d.requests + EXCLUDED.requests,"
      + " prompt_tokens = d.prompt_tokens + EXCLUDED.prompt_tokens,"
      + " completion_tokens = d.completion_tokens + EXCLUDED.completion_tokens,"
      + " failed_requests = d.failed_requests + EXCLUDED.failed_requests,"
      + " client_disconnected = d.client_disconnected + EXCLUDED.client_disconnected";

  /**
   * {@code sluice.usage.retention} and when the roll-up runs.
   *
   * @param retention how long records are kept one by one; empty: for ever (no roll-up)
   * @param delay     from the gateway's start to the first run
   * @param interval  between the end of one run and the start of the next
   */
  public record Settings(Optional<Duration> retention, Duration delay, Duration interval) {
    public static final Duration MIN_RETENTION = Duration.ofDays(1);

    public Settings {
      if (retention.isPresent() && retention.get().compareTo(MIN_RETENTION) < 0) {
        throw new IllegalArgumentException("retention must be at least 1d: " + retention.get());
      }
      if (delay.isNegative()) throw new IllegalArgumentException("rollup.delay must not be negative: " + delay);
      if (interval.compareTo(Duration.ofMinutes(1)) < 0) throw new IllegalArgumentException("rollup.interval must be at least 1m: " + interval);
    }

    public static Settings from(Config root) {
      Config c = root.getConfig(BASE);
      Duration delay = c.getDuration("rollup.delay");
      Duration interval = c.getDuration("rollup.interval");
      if (delay.isNegative()) throw new ConfigException.BadValue(c.origin(), BASE + ".rollup.delay", "must not be negative");
      if (interval.compareTo(Duration.ofMinutes(1)) < 0) {
        throw new ConfigException.BadValue(c.origin(), BASE + ".rollup.interval", "must be at least 1m");
      }
      return new Settings(retention(c), delay, interval);
    }

    private static Optional<Duration> retention(Config c) {
      String path = "retention";
      String rule = "must be a duration of at least 1d (e.g. 90d), or 0 or off to keep every record";
      var type = c.getValue(path).valueType();
      if (type == ConfigValueType.BOOLEAN) {
        if (!c.getBoolean(path)) return Optional.empty();              // `off`
        throw new ConfigException.BadValue(c.origin(), BASE + "." + path, rule);
      }
      if (type == ConfigValueType.STRING && c.getString(path).strip().equalsIgnoreCase("off")) return Optional.empty();
      Duration d;
      try {
        d = c.getDuration(path);
      } catch (ConfigException.BadValue | ConfigException.WrongType e) {
        throw new ConfigException.BadValue(c.origin(), BASE + "." + path, rule);
      }
      if (d.isZero()) return Optional.empty();
      if (d.compareTo(MIN_RETENTION) < 0) throw new ConfigException.BadValue(c.origin(), BASE + "." + path, rule);
      return Optional.of(d);
    }
  }

  /**
   * What one run did.
   *
   * @param before  records that started before this instant (a UTC midnight) were to be folded
   * @param days    days folded (each one transaction)
   * @param records raw records deleted, now counted in daily rows
   * @param gaveWay another gateway was folding, so this run stopped
   * @param failure why the run stopped early; the day it was folding is unchanged
   */
  public record Run(Instant before, int days, long records, Duration took, boolean gaveWay, Optional<SQLException> failure) {}

  private final DatabaseSettings db;
  private final Settings settings;
  private final Clock clock;
  private volatile boolean stopped;

  public UsageRollUp(DatabaseSettings db, Settings settings, Clock clock) {
    this.db = db;
    this.settings = settings;
    this.clock = clock;
  }

  /** The first day kept one record per request: records that started before this midnight (UTC) are folded. */
  static Instant cutoff(Instant now, Duration retention) {
    return LocalDate.ofInstant(now.minus(retention), ZoneOffset.UTC).atStartOfDay(ZoneOffset.UTC).toInstant();
  }

  /** Folds every whole day older than the retention, oldest first; with the retention off, nothing. Never throws SQL. */
  public Run run() {
    long start = System.nanoTime();
    if (settings.retention().isEmpty()) return new Run(Instant.MIN, 0, 0, Duration.ZERO, false, Optional.empty());
    Instant before = cutoff(clock.instant(), settings.retention().get());
    int days = 0;
    long records = 0;
    boolean pg = db.type() == DatabaseSettings.Type.POSTGRES;
    try (Connection c = db.connect()) {
      c.setAutoCommit(false);
      while (!stopped) {
        if (pg && !locked(c)) {
          c.rollback();
          return new Run(before, days, records, since(start), true, Optional.empty());
        }
        Optional<LocalDate> day = oldestDay(c, before);
        if (day.isEmpty()) {
          c.rollback();
          break;
        }
        long folded;
        try {
          folded = fold(c, day.get(), pg);
          c.commit();                                                 // also ends the advisory lock
        } catch (SQLException e) {
          c.rollback();
          throw new SQLException("folding the usage of " + day.get() + " failed: " + e.getMessage(), e.getSQLState(), e);
        }
        if (folded == 0) break;                                       // rows seen but none deleted: never loop on them
        days++;
        records += folded;
      }
    } catch (SQLException e) {
      return new Run(before, days, records, since(start), false, Optional.of(e));
    }
    return new Run(before, days, records, since(start), false, Optional.empty());
  }

  /** A run with its one log line: INFO, or WARN when it failed (the next run tries again). */
  public Run runAndLog() {
    Run r = run();
    if (settings.retention().isEmpty()) return r;
    long ms = r.took().toMillis();
    if (r.failure().isPresent()) {
      LOG.warn("usage roll-up failed after folding {} days ({} records) older than {} in {} ms; the next run (in {}) "
          + "tries again: {}", r.days(), r.records(), r.before(), ms, settings.interval(), r.failure().get().getMessage());
    } else if (r.gaveWay()) {
      LOG.info("usage roll-up: folded {} days ({} records) older than {} in {} ms, then left the rest to another gateway "
          + "that is folding", r.days(), r.records(), r.before(), ms);
    } else {
      LOG.info("usage roll-up: folded {} days ({} records) older than {} into daily totals in {} ms",
          r.days(), r.records(), r.before(), ms);
    }
    return r;
  }

  /**
   * Runs {@code rollUp} {@code delay} after now, then every {@code interval}, on {@code blocking}; stops at the
   * gateway's shutdown (a day being folded then is rolled back whole). Nothing with the retention off.
   */
  public static void start(ActorSystem<?> system, UsageRollUp rollUp, Executor blocking) {
    Settings s = rollUp.settings;
    if (s.retention().isEmpty()) {
      LOG.info("usage retention is off: every usage record is kept");
      return;
    }
    AtomicBoolean running = new AtomicBoolean();
    var runs = system.scheduler().scheduleWithFixedDelay(s.delay(), s.interval(), () -> {
      if (!running.compareAndSet(false, true)) return;                 // the previous run is still folding
      try {
        blocking.execute(() -> {
          try {
            rollUp.runAndLog();
          } finally {
            running.set(false);
          }
        });
      } catch (RejectedExecutionException e) {
        running.set(false);                                            // shutting down
      }
    }, system.executionContext());
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "usage-rollup", () -> {
      runs.cancel();
      rollUp.stopped = true;
      return CompletableFuture.completedFuture(Done.getInstance());
    });
  }

  private static boolean locked(Connection c) throws SQLException {
    try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT pg_try_advisory_xact_lock(" + LOCK_ID + ")")) {
      return rs.next() && rs.getBoolean(1);
    }
  }

  private static Optional<LocalDate> oldestDay(Connection c, Instant before) throws SQLException {
    try (PreparedStatement ps = c.prepareStatement("SELECT MIN(started_at) FROM sluice_usage WHERE started_at < ?")) {
      ps.setObject(1, OffsetDateTime.ofInstant(before, ZoneOffset.UTC));
      try (ResultSet rs = ps.executeQuery()) {
        OffsetDateTime oldest = rs.next() ? rs.getObject(1, OffsetDateTime.class) : null;
        return Optional.ofNullable(oldest).map(t -> LocalDate.ofInstant(t.toInstant(), ZoneOffset.UTC));
      }
    }
  }

  /** Inside the caller's transaction: deletes the day's records and adds their totals; returns how many records. */
  private static long fold(Connection c, LocalDate day, boolean pg) throws SQLException {
    record Totals(String user, String key, String model, long requests, long prompt, long completion, long failed,
                  long disconnected) {}
    List<Totals> totals = new ArrayList<>();
    try (PreparedStatement take = c.prepareStatement(pg ? TAKE_PG : TAKE_H2)) {
      take.setObject(1, day.atStartOfDay().atOffset(ZoneOffset.UTC));
      take.setObject(2, day.plusDays(1).atStartOfDay().atOffset(ZoneOffset.UTC));
      try (ResultSet rs = take.executeQuery()) {
        while (rs.next()) {
          totals.add(new Totals(rs.getString(1), rs.getString(2), rs.getString(3), rs.getLong(4), rs.getLong(5),
              rs.getLong(6), rs.getLong(7), rs.getLong(8)));
        }
      }
    }
    long records = 0;
    try (PreparedStatement add = c.prepareStatement(pg ? ADD_PG : ADD_H2)) {
      for (Totals t : totals) {
        add.setObject(1, day);
        add.setString(2, t.user());
        add.setString(3, t.key());
        add.setString(4, t.model());
        add.setLong(5, t.requests());
        add.setLong(6, t.prompt());
        add.setLong(7, t.completion());
        add.setLong(8, t.failed());
        add.setLong(9, t.disconnected());
        add.addBatch();
        records += t.requests();
      }
      if (!totals.isEmpty()) add.executeBatch();
    }
    return records;
  }

  private static Duration since(long startNanos) { return Duration.ofNanos(System.nanoTime() - startNanos); }
}
