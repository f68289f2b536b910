package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** sluice.http.connections: the defaults of reference.conf, and a start-up error naming the key for a bad value. */
class ConnectionSettingsTest {
  private static Config with(String override) {
    return ConfigFactory.parseString(override)
        .withFallback(ConfigFactory.parseFile(new File("src/main/resources/reference.conf")))
        .withFallback(ConfigFactory.parseString("pekko.http.server.idle-timeout = 11m")).resolve();
  }

  @Test void theDefaultsCloseIdleConnectionsLongBeforePekkosIdleTimeout() {
    ConnectionSettings s = ConnectionSettings.from(with(""));
    assertEquals(Duration.ofSeconds(10), s.headTimeout());
    assertEquals(Duration.ofSeconds(60), s.idleTimeout());
    assertEquals(Duration.ofSeconds(60), s.bodyTimeout());
    assertEquals(16384, s.maxConnections());
    assertEquals(1024, s.maxPerAddress());
  }

  @Test void zeroTurnsThePerAddressCapOff() {
    assertEquals(0, ConnectionSettings.from(with("sluice.http.connections.max-per-address = 0")).maxPerAddress());
  }

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource(delimiter = '|', value = {
      "head-timeout    | 0s  | must be positive",
      "idle-timeout    | -1s | must be positive",
      "body-timeout    | 11m | must be shorter than pekko.http.server.idle-timeout",
      "head-timeout    | 12m | must be shorter than pekko.http.server.idle-timeout",
      "max-connections | 0   | must be at least 1",
      "max-per-address | -1  | must be 0 (no cap) or more",
      "max-per-address | 20000 | must not be above sluice.http.connections.max-connections"})
  void aBadValueFailsWithItsKey(String key, String value, String why) {
    var e = assertThrows(ConfigException.BadValue.class,
        () -> ConnectionSettings.from(with("sluice.http.connections." + key + " = " + value)));
    assertTrue(e.getMessage().contains("sluice.http.connections." + key), e.getMessage());
    assertTrue(e.getMessage().contains(why), e.getMessage());
  }
}
