package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import org.junit.jupiter.api.Test;

/**
 * Every key the bridge reads is documented, with its default, in its own reference.conf: a cluster that names only its
 * transport and agent gets everything else from that file alone.
 */
class ReferenceConfTest {
  @Test void aClustersSettingsComeFromTheBridgesReferenceConf() {
    Config own = ConfigFactory.parseString("sluice.clusters.hpc { transport = local, local.agent-command = [\"agent\"] }")
        .withFallback(ConfigFactory.parseFile(new File("src/main/resources/reference.conf"))).resolve();
    BridgeSettings s = BridgeSettings.from(own, "hpc");
    assertEquals(BridgeSettings.Transport.LOCAL, s.transport());
  }
}
