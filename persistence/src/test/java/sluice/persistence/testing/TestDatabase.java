package sluice.persistence.testing;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigRenderOptions;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The databases the persistence, recovery and restart tests run on: the embedded H2 file and a real PostgreSQL
 * server, the private one {@code bin/pg-sandbox} starts (named by {@code SLUICE_PG_SANDBOX}; {@code bin/sluice test}
 * starts it). Each {@link #config} call gives a new, empty database. {@code -Dsluice.test.databases=h2} (what
 * {@code bin/sluice test --no-pg} passes) leaves PostgreSQL out; otherwise a missing sandbox fails the test, so a
 * PostgreSQL case is never skipped silently.
 */
public enum TestDatabase {
  H2, POSTGRES;

  private static final String ROLE = "sluice_test";
  /** The test role's password: tests check that no log or output ever shows it. */
  public static final String ROLE_PASSWORD = "sluice-test-password";
  private static final AtomicInteger DATABASES = new AtomicInteger();
  private static volatile boolean roleMade;

  /** Every database this run tests on: the JUnit source of the parameterized tests. */
  public static List<TestDatabase> all() {
    String only = System.getProperty("sluice.test.databases", "h2,postgres");
    List<TestDatabase> list = new ArrayList<>();
    for (TestDatabase d : values()) if (only.contains(d.name().toLowerCase())) list.add(d);
    return list;
  }

  /**
   * The {@code sluice.persistence} settings (and {@code sluice.data-dir}) of a new, empty database, to lay over a
   * gateway's config. For PostgreSQL the password is in an owner-only file under {@code dataDir}.
   */
  public Config config(Path dataDir) {
    Map<String, Object> m = new HashMap<>();
    m.put("sluice.data-dir", dataDir.toString());
    if (this == H2) {
      m.put("sluice.persistence.type", "h2");
      return ConfigFactory.parseMap(m);
    }
    String db = newDatabase();
    m.put("sluice.persistence.type", "postgres");
    m.put("sluice.persistence.url", url(db));
    m.put("sluice.persistence.user", ROLE);
    m.put("sluice.persistence.password-file", passwordFile(dataDir).toString());
    return ConfigFactory.parseMap(m);
  }

  /** {@link #config} as HOCON to append to a gateway's config file. */
  public String hocon(Path dataDir) {
    return "\nsluice " + config(dataDir).getConfig("sluice").root().render(ConfigRenderOptions.concise()) + "\n";
  }

  /** Stops the PostgreSQL server (every test database is on it): the outage tests. */
  public static void stopServer() { ctl("stop"); }

  public static void startServer() { ctl("start"); }

  private static void ctl(String verb) {
    try {
      Process p = new ProcessBuilder(sandbox().resolve("ctl").toString(), verb).inheritIO().start();
      if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) throw new IllegalStateException("ctl " + verb + " failed");
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  private static Path sandbox() {
    String dir = System.getenv("SLUICE_PG_SANDBOX");
    if (dir == null || dir.isBlank()) {
      throw new IllegalStateException("the PostgreSQL tests need the server bin/pg-sandbox starts: run bin/sluice test "
          + "(it starts one), set SLUICE_PG_SANDBOX to a running sandbox, or pass -Dsluice.test.databases=h2");
    }
    return Path.of(dir);
  }

  private static Map<String, String> env() {
    try {
      Map<String, String> env = new HashMap<>();
      for (String line : Files.readAllLines(sandbox().resolve("pg.env"))) {
        int eq = line.indexOf('=');
        if (eq > 0) env.put(line.substring(0, eq), line.substring(eq + 1));
      }
      return env;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String url(String db) {
    Map<String, String> env = env();
    return "jdbc:postgresql://" + env.get("PGHOST") + ":" + env.get("PGPORT") + "/" + db + "?reWriteBatchedInserts=true";
  }

  /** A connection as the server's superuser, to a database of the sandbox (tests inspect or tamper with it). */
  public static Connection superuser(String db) throws SQLException {
    Map<String, String> env = env();
    return DriverManager.getConnection("jdbc:postgresql://" + env.get("PGHOST") + ":" + env.get("PGPORT") + "/" + db,
        env.get("PGUSER"), env.get("PGPASSWORD"));
  }

  /** The name of the database in a PostgreSQL URL this class made. */
  public static String databaseOf(String url) {
    String rest = url.substring(url.lastIndexOf('/') + 1);
    int q = rest.indexOf('?');
    return q < 0 ? rest : rest.substring(0, q);
  }

  private static String newDatabase() {
    String name = "t" + ProcessHandle.current().pid() + "_" + DATABASES.incrementAndGet();
    try (Connection c = superuser("postgres"); Statement s = c.createStatement()) {
      synchronized (TestDatabase.class) {
        if (!roleMade) {
          // The gateway connects as an ordinary role that owns its database, as in production.
          try {
            s.execute("CREATE ROLE " + ROLE + " LOGIN PASSWORD '" + ROLE_PASSWORD + "'");
          } catch (SQLException e) {
            if (!"42710".equals(e.getSQLState())) throw e;            // exists: made by an earlier test JVM
          }
          roleMade = true;
        }
      }
      s.execute("CREATE DATABASE " + name + " OWNER " + ROLE);
      return name;
    } catch (SQLException e) {
      throw new IllegalStateException("cannot create a test database on the PostgreSQL sandbox: " + e.getMessage(), e);
    }
  }

  private static Path passwordFile(Path dataDir) {
    try {
      Files.createDirectories(dataDir);
      Path f = dataDir.resolve("db-password");
      Files.writeString(f, ROLE_PASSWORD + "\n");
      Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
      return f;
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
