package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.Parameter;
import org.junit.jupiter.params.ParameterizedClass;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.Migrations;
import sluice.persistence.testing.TestDatabase;

/**
 * {@code sluice db status|migrate --config FILE} as an operator runs them (the shaded jar), on H2 and PostgreSQL, and
 * a gateway refusing to start on a database a newer release migrated.
 */
@ParameterizedClass
@MethodSource("sluice.persistence.testing.TestDatabase#all")
class DatabaseCommandIT {
  @Parameter TestDatabase database;
  @TempDir Path dir;

  record Run(int exit, String output) {}

  @Test void statusMigrateTwiceAndARefusedNewerDatabase() throws Exception {
    Path conf = dir.resolve("gateway.conf");
    Files.writeString(conf, "sluice.http.port = " + EmbeddedStack.freePort() + "\nsluice.management.port = "
        + EmbeddedStack.freePort() + "\n" + database.hocon(dir.resolve("data")));

    Run status = sluice("db", "status", "--config", conf.toString());
    assertEquals(1, status.exit(), status.output());
    assertTrue(status.output().contains("database schema version 0; this Sluice needs " + Migrations.latest()), status.output());

    Run first = sluice("db", "migrate", "--config", conf.toString());
    assertEquals(0, first.exit(), first.output());
    assertTrue(first.output().contains("migrated from version 0 to " + Migrations.latest()), first.output());
    Run second = sluice("db", "migrate", "--config", conf.toString());
    assertEquals(0, second.exit(), second.output());
    assertTrue(second.output().contains("database schema is up to date (version " + Migrations.latest() + ")"), second.output());
    assertEquals(0, sluice("db", "status", "--config", conf.toString()).exit());

    Config config = DatabaseSettings.applyTo(ConfigFactory.load(ConfigFactory.parseFile(conf.toFile())
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))));
    try (Connection c = DatabaseSettings.from(config).connect(); Statement s = c.createStatement()) {
      s.execute("INSERT INTO sluice_schema_version (version, description, applied_at) VALUES (" + (Migrations.latest() + 1)
          + ", 'a newer release', CURRENT_TIMESTAMP)");
    }
    Run refused = sluice("serve", "--config", conf.toString());
    assertEquals(1, refused.exit(), refused.output());
    assertTrue(refused.output().contains("sluice: cannot start: the database schema is at version " + (Migrations.latest() + 1)),
        refused.output());
    assertEquals(1, sluice("db", "status", "--config", conf.toString()).exit());

    Run usage = sluice("db", "migrate");
    assertEquals(2, usage.exit(), usage.output());
    assertTrue(usage.output().contains("usage: sluice db migrate|status --config FILE"), usage.output());
    assertTrue(!String.join("", List.of(status.output(), first.output(), refused.output())).contains(TestDatabase.ROLE_PASSWORD),
        "the password is never printed");
  }

  private Run sluice(String... args) throws IOException, InterruptedException {
    List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
        "-Xmx256m", "-jar", GatewayProcess.jar().toString()));
    cmd.addAll(List.of(args));
    Path out = dir.resolve("out-" + System.nanoTime() + ".log");
    Process p = new ProcessBuilder(cmd).directory(dir.toFile()).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    if (!p.waitFor(120, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new AssertionError("sluice " + String.join(" ", args) + " did not finish:\n" + Files.readString(out));
    }
    return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8));
  }
}
