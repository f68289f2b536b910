package sluice.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.sql.SQLException;
import java.time.Duration;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class StorageHealthTest {
  private final StorageHealth health = new StorageHealth(new StorageHealth.Settings(Duration.ofSeconds(2), Duration.ofSeconds(5), 0, Duration.ZERO));

  @Test void aFailedProbeRefusesWritesUntilAProbeWorksAgain() {
    health.probeWith(() -> {});
    assertTrue(health.writable());
    health.probeWith(() -> { throw new SQLException("No space left on device\nat line 2"); });
    assertFalse(health.writable());
    assertEquals(Optional.of("the storage probe failed: No space left on device"), health.problem(), "first line only");
    health.probeWith(() -> {});
    assertTrue(health.writable(), "the next probe that works ends it, with nothing reopened by hand");
    assertEquals(Optional.empty(), health.problem());
  }

  @Test void aWritersFailureCountsAtOnceAndOnlyAProbeClearsIt() {
    health.failed("a usage insert", new SQLException("The database has been closed"));
    assertFalse(health.writable(), "known before the next probe");
    assertEquals(Optional.of("a usage insert failed: The database has been closed"), health.problem());
    health.probeWith(() -> {});
    assertTrue(health.writable());
  }

  @Test void afterAnOutageItIsRecoveringForTheGracePeriod() {
    StorageHealth graced = new StorageHealth(new StorageHealth.Settings(Duration.ofSeconds(2), Duration.ofSeconds(5), 0, Duration.ofHours(1)));
    graced.probeWith(() -> {});
    assertFalse(graced.recovering(), "never failed: nothing to recover from");
    graced.failed("a usage insert", new SQLException("Connection refused"));
    assertTrue(graced.recovering());
    graced.probeWith(() -> {});
    assertTrue(graced.writable(), "new requests are taken at once");
    assertTrue(graced.recovering(), "an unanswered ask within the grace period still counts as the outage");

    health.failed("a usage insert", new SQLException("Connection refused"));
    health.probeWith(() -> {});
    assertFalse(health.recovering(), "a grace of 0 ends with the outage");
  }

  @Test void settingsAreChecked() {
    var config = com.typesafe.config.ConfigFactory.parseString("sluice.storage.probe-interval = 0s")
        .withFallback(com.typesafe.config.ConfigFactory.load());
    var e = org.junit.jupiter.api.Assertions.assertThrows(com.typesafe.config.ConfigException.class,
        () -> StorageHealth.Settings.from(config));
    assertTrue(e.getMessage().contains("sluice.storage.probe-interval"), e.getMessage());
    var defaults = StorageHealth.Settings.from(com.typesafe.config.ConfigFactory.load());
    assertEquals(Duration.ofSeconds(5), defaults.retryAfter());
    assertEquals(64L * 1024 * 1024, defaults.minFreeSpace());
  }
}
