package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** {@code sluice.cluster} as an operator writes it, and what it becomes in Pekko's keys. */
class GatewayClusterTest {
  private static Config config(String cluster) {
    return ConfigFactory.parseString("sluice.cluster { " + cluster + " }")
        .withFallback(ConfigFactory.parseResources("application.conf")).withFallback(ConfigFactory.defaultReference()).resolve();
  }

  @Test void withoutSeedNodesTheGatewayIsAClusterOfOneThatStopsAtOnce() {
    GatewayCluster c = GatewayCluster.from(config(""));
    assertFalse(c.multiNode());
    assertEquals(Duration.ZERO, c.unreadyDelay());
    assertEquals(List.of(), c.applyTo(config("")).getStringList("pekko.cluster.seed-nodes"));
  }

  @Test void seedNodesBecomePekkoAddressesWithTheResolversKeepMajority() {
    Config raw = config("host = \"10.0.0.2\", port = 25520, seed-nodes = [\"10.0.0.1:25520\", \"10.0.0.2:25520\"], stable-after = 7s");
    GatewayCluster c = GatewayCluster.from(raw);
    assertTrue(c.multiNode());
    assertEquals(Duration.ofSeconds(3), c.unreadyDelay(), "auto: long enough for the balancer's checks");
    Config pekko = c.applyTo(raw);
    assertEquals(List.of("pekko://sluice@10.0.0.1:25520", "pekko://sluice@10.0.0.2:25520"), pekko.getStringList("pekko.cluster.seed-nodes"));
    assertEquals("10.0.0.2", pekko.getString("pekko.remote.artery.canonical.hostname"));
    assertEquals(25520, pekko.getInt("pekko.remote.artery.canonical.port"));
    assertEquals("keep-majority", pekko.getString("pekko.cluster.split-brain-resolver.active-strategy"));
    assertEquals(Duration.ofSeconds(7), pekko.getDuration("pekko.cluster.split-brain-resolver.stable-after"));
    assertEquals(Duration.ofSeconds(8), pekko.getDuration("pekko.coordinated-shutdown.phases.before-service-unbind.timeout"));
  }

  @Test void contactPointsTurnOnBootstrapWithConfigDiscovery() {
    Config raw = config("port = 25520, bootstrap.contact-points = [\"10.0.0.1:8558\", \"10.0.0.2:8558\", \"10.0.0.3:8558\"]");
    GatewayCluster c = GatewayCluster.from(raw);
    assertTrue(c.bootstrap());
    Config pekko = c.applyTo(raw);
    assertEquals("config", pekko.getString("pekko.management.cluster.bootstrap.contact-point-discovery.discovery-method"));
    assertEquals(3, pekko.getConfigList("pekko.discovery.config.services.sluice.endpoints").size());
    assertEquals(8558, pekko.getConfigList("pekko.discovery.config.services.sluice.endpoints").get(0).getInt("port"));
  }

  @Test void nodesOfAClusterMustShareAPostgresqlDatabaseNotAnEmbeddedH2() {
    Config h2 = ConfigFactory.parseString("sluice.cluster { port = 25520, seed-nodes = [\"10.0.0.1:25520\"] }")
        .withFallback(ConfigFactory.load());
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Gateway.start(h2));
    assertTrue(e.getMessage().contains("gateway nodes share one PostgreSQL database"), e.getMessage());
  }

  @Test void badSettingsAreRefusedWithTheKeyToFix() {
    assertTrue(assertThrows(IllegalArgumentException.class, () -> GatewayCluster.from(config("port = 25520, seed-nodes = [\"10.0.0.1\"]")))
        .getMessage().contains("sluice.cluster.seed-nodes: '10.0.0.1' is not host:port"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> GatewayCluster.from(config("seed-nodes = [\"10.0.0.1:25520\"]")))
        .getMessage().contains("sluice.cluster.port must be fixed"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> GatewayCluster.from(config(
        "port = 1, seed-nodes = [\"a:1\"], bootstrap.contact-points = [\"a:2\"]"))).getMessage().contains("not both"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> GatewayCluster.from(config("port = 70000")))
        .getMessage().contains("0..65535"));
  }
}
