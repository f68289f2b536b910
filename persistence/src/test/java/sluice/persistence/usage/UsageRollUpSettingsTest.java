package sluice.persistence.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** {@code sluice.usage.retention} and {@code sluice.usage.rollup}, and which days a retention folds. */
class UsageRollUpSettingsTest {
  static UsageRollUp.Settings settings(String hocon) {
    return UsageRollUp.Settings.from(ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test void theDefaultKeepsNinetyDaysAndRunsAMinuteAfterStartThenDaily() {
    assertEquals(new UsageRollUp.Settings(Optional.of(Duration.ofDays(90)), Duration.ofMinutes(1), Duration.ofDays(1)),
        settings(""));
  }

  @ParameterizedTest @ValueSource(strings = {"off", "\"off\"", "0", "0d"})
  void offOrZeroKeepsEveryRecord(String value) {
    assertEquals(Optional.empty(), settings("sluice.usage.retention = " + value).retention());
  }

  @ParameterizedTest @ValueSource(strings = {"12h", "-1d", "soon", "on", "[]"})
  void aRetentionUnderADayOrNotADurationIsRefused(String value) {
    var e = assertThrows(ConfigException.BadValue.class, () -> settings("sluice.usage.retention = " + value));
    assertTrue(e.getMessage().contains("sluice.usage.retention") && e.getMessage().contains("at least 1d"), e.getMessage());
  }

  @Test void aRunEveryFewSecondsOrANegativeDelayIsRefused() {
    var e = assertThrows(ConfigException.BadValue.class, () -> settings("sluice.usage.rollup.interval = 10s"));
    assertTrue(e.getMessage().contains("sluice.usage.rollup.interval"), e.getMessage());
    e = assertThrows(ConfigException.BadValue.class, () -> settings("sluice.usage.rollup.delay = -1s"));
    assertTrue(e.getMessage().contains("sluice.usage.rollup.delay"), e.getMessage());
    assertThrows(IllegalArgumentException.class,
        () -> new UsageRollUp.Settings(Optional.of(Duration.ofHours(23)), Duration.ZERO, Duration.ofDays(1)));
  }

  @Test void theCutoffIsTheMidnightBeforeNowMinusTheRetention() {
    assertEquals(Instant.parse("2026-03-17T00:00:00Z"), UsageRollUp.cutoff(Instant.parse("2026-06-15T09:30:00Z"), Duration.ofDays(90)));
    assertEquals(Instant.parse("2026-06-14T00:00:00Z"), UsageRollUp.cutoff(Instant.parse("2026-06-15T00:00:00Z"), Duration.ofDays(1)),
        "at midnight, the day before yesterday is the newest folded: all of it is older than one day");
    assertEquals(Instant.parse("2026-06-13T00:00:00Z"), UsageRollUp.cutoff(Instant.parse("2026-06-14T23:59:59Z"), Duration.ofDays(1)));
    Instant now = Instant.parse("2026-06-15T09:30:00Z");
    assertFalse(UsageRollUp.cutoff(now, Duration.ofDays(90)).isAfter(now.minus(Duration.ofDays(90))), "never a day partly young");
  }
}
