package sluice.edge;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import sluice.edge.observe.LogFormat;
import com.typesafe.config.ConfigParseOptions;
import java.io.PrintStream;
import java.net.BindException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.sql.SQLException;
import java.time.Duration;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import sluice.core.Stages;
import sluice.core.service.ServiceStatus;
import sluice.edge.cli.AdminCli;
import sluice.persistence.DataFolder;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.Migrations;

/**
 * {@code sluice serve --config FILE} runs a gateway from a deployment config; {@code sluice demo [--port N]} runs the
 * embedded stack (local scheduler, agent over pipes, H2 under ./data, mock-llm) from conf/embedded.conf.
 * The agent and mock-llm have their own small jars (see bin/sluice).
 */
public final class Main {
  static final int EXIT_USAGE = 2;
  /** The gateway cluster downed this node (or it could not join): not a requested stop. */
  static final int EXIT_DOWNED = 3;
  private static final Duration DEMO_READY_WAIT = Duration.ofSeconds(90);

  private Main() {}

  public static void main(String[] args) {
    Stages.atLeastTwoCommonPoolThreads();                // before anything uses the common pool
    PrintStream out = System.out;
    PrintStream err = System.err;
    if (args.length == 0 || args[0].equals("--help") || args[0].equals("help")) {
      usage(args.length == 0 ? err : out);
      System.exit(args.length == 0 ? EXIT_USAGE : 0);
    }
    try {
      switch (args[0]) {
        case "serve" -> serve(args, out, err);
        case "demo" -> demo(args, out, err);
        case "admin" -> System.exit(AdminCli.run(Arrays.copyOfRange(args, 1, args.length)));
        case "db" -> database(args, out);
        default -> {
          err.println("sluice: unknown command '" + args[0] + "'");
          usage(err);
          System.exit(EXIT_USAGE);
        }
      }
    } catch (UsageError e) {
      err.println("sluice: " + e.getMessage());
      System.exit(EXIT_USAGE);
    } catch (ConfigException e) {
      err.println("sluice: configuration error: " + e.getMessage());
      System.exit(EXIT_USAGE);
    } catch (DataFolder.Unusable | Migrations.NewerSchema | Migrations.SchemaBehind e) {
      err.println("sluice: cannot start: " + e.getMessage());
      System.exit(1);
    } catch (SQLException e) {
      // The driver's message names the host and the problem (refused, unknown database, authentication), never the password.
      err.println("sluice: database: " + e.getMessage());
      System.exit(1);
    } catch (Exception e) {
      Throwable root = e;
      while (root.getCause() != null) root = root.getCause();
      err.println("sluice: failed to start: " + (root instanceof BindException ? "address in use (" + root.getMessage() + ")" : root));
      System.exit(1);
    }
  }

  private static void usage(PrintStream s) {
    s.println("""
        usage: sluice <command> [options]
          demo [--port N]       run the embedded demo (local scheduler, mock-llm); keys from SLUICE_DEMO_KEY and
                                SLUICE_ADMIN_KEY, else generated and printed
          serve --config FILE   run a gateway with a deployment config (HOCON, see conf/)
          admin COMMAND         users, API keys and usage through a gateway's admin API (admin --help)
          db migrate --config FILE   bring the database of a deployment config to this release's schema (idempotent)
          db status --config FILE    the schema version the database is at, and the one this release needs
          agent [--config FILE] run the login-node agent (separate jar, see slurm-agent/README.md)
          mock-llm --port N     run the mock model server (separate jar, see mock-llm/README.md)""");
  }

  static final class UsageError extends Exception {
    private static final long serialVersionUID = 1L;

    UsageError(String message) { super(message); }
  }

  /** {@code db migrate|status --config FILE}: the schema of the deployment's database, without starting a gateway. */
  private static void database(String[] args, PrintStream out) throws Exception {
    if (args.length != 4 || !args[2].equals("--config") || !List.of("migrate", "status").contains(args[1])) {
      throw new UsageError("usage: sluice db migrate|status --config FILE");
    }
    Path file = Path.of(args[3]);
    if (!Files.isRegularFile(file)) throw new UsageError("no such config file: " + file);
    DatabaseSettings db = DatabaseSettings.from(load(file, Map.of()));
    if (args[1].equals("migrate")) {
      Migrations.Result r = Migrations.migrate(db);
      out.println(r.applied().isEmpty() ? "database schema is up to date (version " + r.after() + ")"
          : "database schema migrated from version " + r.before() + " to " + r.after() + ": " + String.join(", ", r.applied()));
    } else {
      int version = Migrations.version(db);
      out.println("database schema version " + version + "; this Sluice needs " + Migrations.latest()
          + (version == Migrations.latest() ? " (up to date)" : version < Migrations.latest() ? " (run: sluice db migrate --config " + file + ")"
          : " (the database is newer than this Sluice)"));
      if (version != Migrations.latest()) System.exit(1);
    }
    System.exit(0);
  }

  private static void serve(String[] args, PrintStream out, PrintStream err) throws Exception {
    if (args.length != 3 || !args[1].equals("--config")) throw new UsageError("usage: sluice serve --config FILE");
    Path file = Path.of(args[2]);
    if (!Files.isRegularFile(file)) throw new UsageError("no such config file: " + file);
    Config config = load(file, Map.of());
    if (LogFormat.json(config)) LogFormat.useJson();
    Gateway gateway = Gateway.start(config);
    out.println("Sluice listening on " + gateway.baseUrl() + "/v1");
    gateway.awaitTermination();
    Optional<String> why = gateway.stoppedByCluster();
    if (why.isPresent()) {                     // not asked to stop: a supervisor (Restart=on-failure) starts it again
      err.println("sluice: " + why.get() + "; exiting for a restart");
      System.exit(EXIT_DOWNED);
    }
  }

  /** A deployment file over the gateway's application.conf and every module's reference.conf. */
  static Config load(Path file, Map<String, Object> overrides) {
    Config fromFile = ConfigFactory.parseFile(file.toFile(), ConfigParseOptions.defaults().setAllowMissing(false));
    Config over = ConfigFactory.parseMap(overrides);
    return ConfigFactory.load(over.withFallback(fromFile).withFallback(ConfigFactory.parseResourcesAnySyntax("application")));
  }

  private static void demo(String[] args, PrintStream out, PrintStream err) throws Exception {
    int port = 8080;
    for (int i = 1; i < args.length; i++) {
      if (args[i].equals("--port") && i + 1 < args.length) {
        try {
          port = Integer.parseInt(args[++i]);
        } catch (NumberFormatException e) {
          throw new UsageError("--port needs a number");
        }
        if (port < 1 || port > 65535) throw new UsageError("--port must be in 1..65535");
      } else {
        throw new UsageError("usage: sluice demo [--port N]");
      }
    }
    Path home = Path.of(System.getProperty("sluice.home", ".")).toAbsolutePath().normalize();
    Path conf = home.resolve("conf/embedded.conf");
    if (!Files.isRegularFile(conf)) throw new UsageError("cannot find " + conf + " (run from the Sluice folder or set SLUICE_HOME)");
    String apiKey = keyFromEnv("SLUICE_DEMO_KEY");
    String adminKey = keyFromEnv("SLUICE_ADMIN_KEY");
    boolean generated = System.getenv("SLUICE_DEMO_KEY") == null;
    Config config = load(conf, Map.of(
        "sluice.home", home.toString(),
        "sluice.http.port", port,
        "sluice.admin.key", adminKey,
        "sluice.auth.api-keys", List.of(Map.of("name", "demo", "key", apiKey))));
    if (LogFormat.json(config)) LogFormat.useJson();
    out.println("Starting the Sluice demo: local scheduler, agent over pipes, H2 under " + config.getString("sluice.data-dir")
        + ", service mock-llm");
    Gateway gateway = Gateway.start(config);
    String base = gateway.baseUrl();
    out.println();
    out.println("  OpenAI base URL: " + base + "/v1");
    out.println("  API key:         " + apiKey + (generated ? "   (generated; set SLUICE_DEMO_KEY to choose it)" : ""));
    out.println("  Admin key:       " + adminKey + (System.getenv("SLUICE_ADMIN_KEY") == null ? "   (generated; set SLUICE_ADMIN_KEY)" : ""));
    out.println();
    out.println("Waiting for the first replica of mock-llm (a job started through the agent)...");
    long started = System.nanoTime();
    if (awaitReady(gateway, "mock-llm")) {
      out.printf("Ready after %.1f s. Try:%n%n", (System.nanoTime() - started) / 1e9);
    } else {
      out.println("Not ready yet (see GET " + base + "/admin/services/mock-llm); requests wait for it. Try:");
      out.println();
    }
    out.println("  curl " + base + "/v1/chat/completions -H 'Authorization: Bearer " + apiKey + "' \\");
    out.println("       -d '{\"model\":\"mock-llm\",\"messages\":[{\"role\":\"user\",\"content\":\"Hello!\"}]}'");
    out.println();
    out.println("  Streaming: add \"stream\":true.  Admin: curl -H 'Authorization: Bearer " + adminKey + "' " + base + "/admin/services"
        + "  (and /admin/tunnels)");
    out.println("  Dashboard: " + base + "/dashboard  (log in with the admin key)");
    out.println("  Press Ctrl-C to stop (the demo's job is cancelled on the way out).");
    out.flush();
    gateway.awaitTermination();
  }

  private static boolean awaitReady(Gateway gateway, String service) throws InterruptedException {
    long until = System.nanoTime() + DEMO_READY_WAIT.toNanos();
    while (System.nanoTime() < until) {
      try {
        ServiceStatus s = gateway.services().status(service).toCompletableFuture().get();
        if ("ready".equals(s.availability())) return true;
      } catch (Exception e) {
        // the service is still starting
      }
      Thread.sleep(250);
    }
    return false;
  }

  private static String keyFromEnv(String name) throws UsageError {
    String v = System.getenv(name);
    if (v == null || v.isEmpty()) {
      byte[] b = new byte[24];
      new SecureRandom().nextBytes(b);
      return "sk-sluice-" + HexFormat.of().formatHex(b);
    }
    if (v.length() < 16 || !v.matches("[\\x21-\\x7e]+")) throw new UsageError(name + " must be at least 16 printable characters without spaces");
    return v;
  }
}
