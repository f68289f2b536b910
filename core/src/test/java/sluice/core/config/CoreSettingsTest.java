package sluice.core.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import org.junit.jupiter.api.Test;

class CoreSettingsTest {
  private static CoreSettings parse(String hocon) {
    return CoreSettings.from(ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test void servicesInheritDefaultsAndKeepDottedIds() {
    CoreSettings s = parse("""
        sluice.clusters.hpc { poll-interval = 10s }
        sluice.services."llama-3.1-8b" { cluster = hpc, max-replicas = 4 }
        """);
    ServiceSettings llama = s.service("llama-3.1-8b").orElseThrow();
    assertEquals("hpc", llama.cluster());
    assertEquals(1, llama.minReplicas());
    assertEquals(4, llama.maxReplicas());
    assertEquals(16, llama.maxInflightPerReplica());
    assertEquals(Duration.ofSeconds(30), llama.maxQueueWait());
    assertEquals(Duration.ofSeconds(10), s.clusters().get("hpc").pollInterval());
  }

  @Test void inconsistentValuesFailNamingTheKey() {
    var e = assertThrows(ConfigException.class, () -> parse("sluice.clusters.a {}\nsluice.services.m { cluster = b }"));
    assertTrue(e.getMessage().contains("sluice.services.m.cluster"), e.getMessage());
    var e2 = assertThrows(ConfigException.class, () -> parse("sluice.clusters.local {}\nsluice.services.m { min-replicas = 3, max-replicas = 2 }"));
    assertTrue(e2.getMessage().contains("max-replicas"), e2.getMessage());
    assertThrows(ConfigException.class, () -> parse("sluice.clusters.local {}\nsluice.services.\"bad id\" {}"));
    assertThrows(ConfigException.class, () -> parse("sluice.deployment = \"Has Spaces\""));
  }
}
