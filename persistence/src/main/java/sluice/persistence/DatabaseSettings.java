package sluice.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import com.typesafe.config.ConfigValueFactory;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;

/**
 * {@code sluice.persistence}: which database holds the journal, snapshots, durable state, the read journal's source
 * and the usage table. {@link #configure} writes it into pekko-persistence-jdbc's shared database
 * ({@code pekko-persistence-jdbc.shared-databases.slick}), which every plugin and {@code UsageStore} read, so there is
 * one place to configure. The password comes from {@code password-file} or {@code SLUICE_DB_PASSWORD} and is never
 * part of a message or {@link #toString()}.
 *
 * @param url  the JDBC URL; for H2 the embedded file under {@code sluice.data-dir} unless set
 * @param poolSize connections the journal plugins share (the usage store opens its own besides: see reference.conf)
 */
public record DatabaseSettings(Type type, String url, String user, Password password, int poolSize, boolean migrate) {
  static final String SLICK = "pekko-persistence-jdbc.shared-databases.slick";
  private static final String BASE = "sluice.persistence";
  public static final String PASSWORD_ENV = "SLUICE_DB_PASSWORD";

  public enum Type {
    H2("slick.jdbc.H2Profile$", "org.h2.Driver", "jdbc:h2:"),
    POSTGRES("slick.jdbc.PostgresProfile$", "org.postgresql.Driver", "jdbc:postgresql:");

    final String profile;
    final String driver;
    final String urlPrefix;

    Type(String profile, String driver, String urlPrefix) {
      this.profile = profile;
      this.driver = driver;
      this.urlPrefix = urlPrefix;
    }

    /** The folder of this dialect's migration scripts. */
    String dialect() { return name().toLowerCase(Locale.ROOT); }
  }

  /** A password that does not print itself. */
  public record Password(String value) {
    public Password {
      value = value == null ? "" : value;
    }

    @Override public String toString() { return value.isEmpty() ? "(none)" : "(hidden)"; }
  }

  public DatabaseSettings {
    if (poolSize < 1 || poolSize > 1000) throw new IllegalArgumentException("pool-size must be 1..1000");
  }

  public static DatabaseSettings from(Config root) { return from(root, System.getenv()); }

  static DatabaseSettings from(Config root, Map<String, String> env) {
    Config c = root.getConfig(BASE);
    Type type;
    try {
      type = Type.valueOf(c.getString("type").toUpperCase(Locale.ROOT));
    } catch (IllegalArgumentException e) {
      throw new ConfigException.BadValue(c.origin(), BASE + ".type", "must be h2 or postgres");
    }
    String url = c.getString("url").strip();
    if (url.isEmpty()) {
      if (type == Type.POSTGRES) throw new ConfigException.BadValue(c.origin(), BASE + ".url",
          "PostgreSQL needs a URL, e.g. jdbc:postgresql://db.example.org:5432/sluice");
      url = root.getString(SLICK + ".db.url");                       // the embedded file of sluice-persistence.conf
    }
    if (!url.startsWith(type.urlPrefix)) {
      throw new ConfigException.BadValue(c.origin(), BASE + ".url", "a " + type.dialect() + " URL starts with " + type.urlPrefix);
    }
    if (url.toLowerCase(Locale.ROOT).contains("password=")) {
      // A URL is printed by drivers and pools: the password belongs in password-file or SLUICE_DB_PASSWORD.
      throw new ConfigException.BadValue(c.origin(), BASE + ".url", "must not contain a password (use password-file or " + PASSWORD_ENV + ")");
    }
    int pool;
    try {
      pool = c.getInt("pool-size");
    } catch (ConfigException.WrongType e) {
      throw new ConfigException.BadValue(c.origin(), BASE + ".pool-size", "must be a whole number");
    }
    if (pool < 1 || pool > 1000) throw new ConfigException.BadValue(c.origin(), BASE + ".pool-size", "must be 1..1000");
    return new DatabaseSettings(type, url, c.getString("user"), password(c, env), pool, c.getBoolean("migrate"));
  }

  private static Password password(Config c, Map<String, String> env) {
    String file = c.getString("password-file").strip();
    if (file.isEmpty()) return new Password(env.getOrDefault(PASSWORD_ENV, ""));
    Path path = Path.of(file);
    try {
      Set<PosixFilePermission> perms = Files.getPosixFilePermissions(path);
      if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.GROUP_WRITE)
          || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
        throw new ConfigException.BadValue(c.origin(), BASE + ".password-file",
            path + " is readable or writable by others: chmod 600 it (or 640 for a group the gateway runs in)");
      }
      String content = Files.readString(path).strip();
      if (content.isEmpty()) throw new ConfigException.BadValue(c.origin(), BASE + ".password-file", path + " is empty");
      return new Password(content);
    } catch (UnsupportedOperationException e) {
      throw new ConfigException.BadValue(c.origin(), BASE + ".password-file", "cannot check the permissions of " + path);
    } catch (IOException e) {
      throw new ConfigException.BadValue(c.origin(), BASE + ".password-file", "cannot read " + path + ": " + e.getClass().getSimpleName());
    }
  }

  /** The root config with the plugins' shared database set from its {@code sluice.persistence}. */
  public static Config applyTo(Config root) { return from(root).configure(root); }

  /** {@code root} (the config these settings were read from) with the plugins' shared database set from them. */
  public Config configure(Config root) {
    Config db = ConfigFactory.empty()
        .withValue("profile", ConfigValueFactory.fromAnyRef(type.profile))
        .withValue("db.url", ConfigValueFactory.fromAnyRef(url))
        .withValue("db.driver", ConfigValueFactory.fromAnyRef(type.driver))
        .withValue("db.user", ConfigValueFactory.fromAnyRef(user))
        .withValue("db.password", ConfigValueFactory.fromAnyRef(password.value()))
        .withValue("db.numThreads", ConfigValueFactory.fromAnyRef(poolSize))
        .withValue("db.maxConnections", ConfigValueFactory.fromAnyRef(poolSize))
        .withValue("db.minConnections", ConfigValueFactory.fromAnyRef(Math.min(2, poolSize)));
    return db.atPath(SLICK).withFallback(root).resolve();
  }

  public boolean embedded() { return type == Type.H2 && url.startsWith("jdbc:h2:file:"); }

  /** A new connection (the caller closes it); the driver is loaded first, as a shaded jar may not register it. */
  public Connection connect() throws SQLException {
    try {
      Class.forName(type.driver);
    } catch (ClassNotFoundException e) {
      throw new SQLException("JDBC driver not on the classpath: " + type.driver);
    }
    Properties p = new Properties();
    p.setProperty("user", user);
    p.setProperty("password", password.value());
    return DriverManager.getConnection(url, p);
  }
}
