package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class GatewayStackTest {
  @Test void theGatewayMapsItsClassDataArchiveOnlyWhenTheBuildMadeOne(@TempDir Path home) throws Exception {
    Path conf = home.resolve("gateway.conf");
    Files.createDirectories(home.resolve("http-edge/target"));
    List<String> without = GatewayStack.command(home, conf);
    assertTrue(without.stream().noneMatch(a -> a.startsWith("-XX:SharedArchiveFile")), without.toString());
    assertEquals(List.of("serve", "--config", conf.toString()), without.subList(without.size() - 3, without.size()));

    Files.writeString(home.resolve("http-edge/target/sluice.jsa"), "archive");
    List<String> with = GatewayStack.command(home, conf);
    assertTrue(with.contains("-XX:SharedArchiveFile=" + home.resolve("http-edge/target/sluice.jsa")), with.toString());
    assertTrue(with.contains("-Xlog:cds*=off"), "a stale archive's warning stays out of the log: " + with);
  }
}
