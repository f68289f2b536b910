package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import org.junit.jupiter.api.Test;
import sluice.edge.auth.OidcSettings;
import sluice.edge.dashboard.DashboardSettings;
import sluice.edge.http.ApiKeys;
import sluice.edge.http.ConnectionSettings;

/**
 * Every {@code sluice} key the edge reads is documented, with its default, in the edge's own reference.conf: the
 * settings are read here from that file alone. Pekko's own keys come from Pekko, so the one the edge checks against is
 * given here.
 */
class ReferenceConfTest {
  @Test void theEdgesSettingsComeFromTheEdgesReferenceConf() {
    Config own = ConfigFactory.parseFile(new File("src/main/resources/reference.conf"))
        .withFallback(ConfigFactory.parseString("pekko.http.server.idle-timeout = 11m")).resolve();
    EdgeSettings.from(own);
    ApiKeys.from(own);
    OidcSettings.from(own);
    ConnectionSettings.from(own);
    DashboardSettings.from(own);
    assertEquals("Dispatcher", own.getString(EdgeSettings.BLOCKING_DISPATCHER + ".type"),
        "the dispatcher the gateway hands to persistence and the bridge");
  }
}
