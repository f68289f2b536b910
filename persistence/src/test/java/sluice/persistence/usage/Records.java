package sluice.persistence.usage;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.time.Instant;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.Migrations;
import sluice.persistence.testing.TestDatabase;

/** Test data: records and the gateway's database config over a temporary folder. */
final class Records {
  static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");

  private Records() {}

  /**
   * As the gateway loads it: a new database of {@code db} (sluice.persistence, data-dir {@code dir}) over
   * sluice-persistence.conf and the reference settings, with the schema migrated.
   */
  static Config config(TestDatabase db, Path dir) {
    Config c = DatabaseSettings.applyTo(ConfigFactory.load(db.config(dir)
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))));
    try {
      Migrations.migrate(DatabaseSettings.from(c));
    } catch (SQLException | Migrations.NewerSchema e) {
      throw new IllegalStateException(e);
    }
    return c;
  }

  static UsageRecord rec(String id, String user, String model, int status, long prompt, long completion, Instant at) {
    return new UsageRecord(id, user, "key-" + user, model, "/v1/chat/completions", "job-7", true, status, prompt,
        completion, Duration.ofMillis(120), Duration.ofMillis(900), false, false, at);
  }

  static UsageRecord rec(String id, Instant at) { return rec(id, "alice", "llama", 200, 10, 5, at); }
}
