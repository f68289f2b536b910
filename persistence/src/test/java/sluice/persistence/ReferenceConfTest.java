package sluice.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.File;
import org.junit.jupiter.api.Test;
import sluice.persistence.usage.UsageRollUp;
import sluice.persistence.usage.UsageWriterSettings;

/** Every key persistence reads is documented, with its default, in its own reference.conf (read here alone). */
class ReferenceConfTest {
  @Test void theUsageWritersSettingsComeFromThisModulesReferenceConf() {
    Config own = ConfigFactory.parseFile(new File("src/main/resources/reference.conf")).resolve();
    UsageWriterSettings.from(own);
    UsageRollUp.Settings.from(own);
    own.getString("sluice.data-dir");
    own.getBoolean("sluice.persistence.migrate");
    own.getInt("sluice.persistence.pool-size");
  }
}
