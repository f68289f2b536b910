package sluice.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import sluice.core.user.UserSettings;

/**
 * Every key core reads is documented, with its default, in core's own reference.conf: the settings are read here from
 * that file alone (not from the merged class path, where another module's file could supply a key).
 */
class ReferenceConfTest {
  static Config own() {
    return ConfigFactory.parseFile(new File("src/main/resources/reference.conf")).resolve();
  }

  @Test void coresSettingsComeFromCoresReferenceConf() {
    Config own = own();
    CoreSettings core = CoreSettings.from(own);
    assertEquals("sluice", core.deployment());
    UserSettings.from(own);
    assertEquals(Duration.ofSeconds(5), own.getDuration("sluice.tunnel-sample-interval"), "read by Tunnels.start");
  }
}
