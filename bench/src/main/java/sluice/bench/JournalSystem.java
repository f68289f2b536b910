package sluice.bench;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import sluice.persistence.DatabaseSettings;

/** An actor system on a bench database, configured as the gateway configures its own. */
final class JournalSystem {
  /**
   * What the bench takes from the gateway's application.conf: its dispatcher sizes (one thread per core) and
   * sluice-persistence.conf; logs at WARNING only. No cluster: the bench runs actors unsharded.
   */
  private static final String BENCH = """
      pekko {
        loggers = ["org.apache.pekko.event.slf4j.Slf4jLogger"]
        logging-filter = "org.apache.pekko.event.slf4j.Slf4jLoggingFilter"
        loglevel = "WARNING"
        actor.default-dispatcher.fork-join-executor { parallelism-min = 2, parallelism-factor = 1.0, parallelism-max = 16 }
        actor.internal-dispatcher.fork-join-executor { parallelism-min = 2, parallelism-factor = 1.0, parallelism-max = 8 }
      }
      """;

  private JournalSystem() {}

  /** The full config of a system on the database {@code db} ({@link JournalDb#config()}). */
  static Config config(Config db) {
    return DatabaseSettings.applyTo(ConfigFactory.load(ConfigFactory.parseString(BENCH).withFallback(db)
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf"))));
  }

  static ActorSystem<Void> start(Config config, String name) {
    return ActorSystem.create(Behaviors.empty(), name, config);
  }

  /** Terminates the system and waits for it: the shared database (and H2's file) is closed after this. */
  static void stop(ActorSystem<?> system) {
    system.terminate();
    try {
      system.getWhenTerminated().toCompletableFuture().get(Duration.ofMinutes(1).toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new IllegalStateException("the actor system did not terminate: " + e, e);
    }
  }
}
