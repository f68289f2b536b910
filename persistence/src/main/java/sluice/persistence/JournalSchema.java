package sluice.persistence;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.persistence.jdbc.testkit.javadsl.SchemaUtils;

/**
 * Creates the journal, snapshot and durable-state tables on first start. Must complete before any persistent actor
 * starts, or its first write fails.
 */
public final class JournalSchema {
  private JournalSchema() {}

  public static CompletionStage<Done> ensure(ActorSystem<?> system) {
    if (!system.settings().config().getBoolean("sluice.persistence.create-schema")) {
      return CompletableFuture.completedFuture(Done.getInstance());
    }
    // Reads the dialect's DDL from the plugin jar and runs what is missing.
    return SchemaUtils.createIfNotExists(system);
  }
}
