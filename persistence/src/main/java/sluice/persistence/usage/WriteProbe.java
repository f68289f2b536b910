package sluice.persistence.usage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * StorageHealth's probe: updates the one row of {@code sluice_health} on a new connection each time, as a new request
 * or an admin query would connect; and, for the embedded H2 file, brings the database back after it failed a write.
 *
 * <p>H2 closes itself on a write error (a full disk) and is reopened by the next connection, with two traps, both seen
 * in DiskFullRootIT. It may stay registered in that state, so that each new connection gets the same stored error
 * although the disk has room again: the probe then ends it with {@code SHUTDOWN IMMEDIATELY} (committed data is on
 * disk, {@code WRITE_DELAY=0}). Or the failed database, when its last old session closes, unregisters the one
 * reopened meanwhile (H2 removes by file name), which keeps its file lock: every new connection then fails with
 * "Database may be already in use". The probe keeps one connection open from its last success (the anchor), which is
 * on that orphan, and ends it through the anchor, so that the next connection opens the file again.
 */
final class WriteProbe {
  private static final Logger LOG = LoggerFactory.getLogger(WriteProbe.class);
  private static final String UPDATE = "UPDATE sluice_health SET checked_at = ? WHERE id = 1";
  private static final int TIMEOUT_SECONDS = 5;
  /** H2: general error (wrapping the file store's), database closed, I/O errors. */
  private static final Set<Integer> H2_BROKEN = Set.of(50000, 90098, 90028, 90031);
  /** H2: "Database may be already in use": another instance holds the file's lock. */
  private static final int H2_IN_USE = 90020;

  /** Opens a connection to the database. */
  @FunctionalInterface
  interface Connector {
    Connection connect() throws SQLException;
  }

  private final boolean embedded;
  private final Connector connector;
  private volatile Connector pool = () -> { throw new SQLException("no connection pool given"); };
  private Connection anchor;                    // guarded by this; embedded only: the connection of the last success

  WriteProbe(String url, Connector connector) {
    this.embedded = url.startsWith("jdbc:h2:file:");
    this.connector = connector;
  }

  /**
   * The journal's connection pool: when an orphan holds the file and the probe has no connection of its own on it,
   * the pool's connections are on it.
   */
  void pool(Connector journalPool) { this.pool = journalPool; }

  synchronized void write() throws SQLException {
    Connection c = connector.connect();
    boolean keep = false;
    try {
      try (PreparedStatement ps = c.prepareStatement(UPDATE)) {
        ps.setQueryTimeout(TIMEOUT_SECONDS);
        ps.setObject(1, OffsetDateTime.ofInstant(Instant.now().truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
        if (ps.executeUpdate() != 1) throw new SQLException("the row of sluice_health is missing");
      }
      if (embedded && anchor == null) {
        anchor = c;
        keep = true;
      }
    } catch (SQLException e) {
      if (embedded) heal(e);
      throw e;
    } finally {
      if (!keep) quietly(c::close);
    }
  }

  private void heal(SQLException e) {
    if (e.getErrorCode() == H2_IN_USE) {
      if (anchor != null) {
        shutdownImmediately(anchor, "an unregistered instance kept the file locked");
      } else {
        try (Connection c = pool.connect()) {
          shutdownImmediately(c, "an unregistered instance the journal's pool was on kept the file locked");
        } catch (SQLException noneThere) {
          // the pool's connection was not on it after all: the next probe tries again
        }
      }
      anchor = null;
    } else if (H2_BROKEN.contains(e.getErrorCode())) {
      try (Connection c = connector.connect()) {
        shutdownImmediately(c, "it failed a write");
      } catch (SQLException cannotOpen) {
        // cannot be opened now: the next probe tries again
      }
      if (anchor != null) quietly(anchor::close);
      anchor = null;
    }
  }

  private static void shutdownImmediately(Connection c, String why) {
    try (Statement s = c.createStatement()) {
      s.execute("SHUTDOWN IMMEDIATELY");
      LOG.warn("ended the embedded database ({}), so that the next connection opens it anew", why);
    } catch (SQLException closedAlready) {
      // nothing left to end
    }
  }

  /** A clean SHUTDOWN of the embedded database (open until then: DB_CLOSE_DELAY=-1); nothing for a database server. */
  synchronized void closeEmbedded() {
    if (!embedded) return;
    try (Connection c = anchor != null ? anchor : connector.connect(); Statement s = c.createStatement()) {
      s.execute("SHUTDOWN");
    } catch (SQLException e) {
      LOG.warn("could not close the embedded database cleanly (it recovers on the next start): {}", e.getMessage());
    } finally {
      anchor = null;
    }
  }

  private interface SqlAction {
    void run() throws SQLException;
  }

  private static void quietly(SqlAction a) {
    try {
      a.run();
    } catch (SQLException ignored) {
      // broken anyway
    }
  }
}
