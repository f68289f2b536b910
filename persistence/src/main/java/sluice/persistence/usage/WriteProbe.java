package sluice.persistence.usage;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;

/**
 * StorageHealth's probe: updates the one row of {@code sluice_health} on a new connection each time, as a new request
 * or an admin query would connect, so that it fails when they would (an embedded H2 file that closed itself on a
 * write error and cannot be reopened in this process fails here too: docs/operations.md, "Storage faults").
 */
final class WriteProbe {
  private static final String UPDATE = "UPDATE sluice_health SET checked_at = ? WHERE id = 1";
  private static final int TIMEOUT_SECONDS = 5;

  /** Opens a connection to the database. */
  @FunctionalInterface
  interface Connector {
    Connection connect() throws SQLException;
  }

  private final Connector connector;

  WriteProbe(Connector connector) { this.connector = connector; }

  void write() throws SQLException {
    try (Connection c = connector.connect(); PreparedStatement ps = c.prepareStatement(UPDATE)) {
      ps.setQueryTimeout(TIMEOUT_SECONDS);
      ps.setObject(1, OffsetDateTime.ofInstant(Instant.now().truncatedTo(ChronoUnit.MICROS), ZoneOffset.UTC));
      if (ps.executeUpdate() != 1) throw new SQLException("the row of sluice_health is missing");
    }
  }
}
