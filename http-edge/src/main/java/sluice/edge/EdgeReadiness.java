package sluice.edge;

import java.util.Map;
import java.util.WeakHashMap;
import java.util.Collections;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * Readiness check for pekko-management's {@code /ready}: true once the gateway has bound its API port with the
 * journal and sharding started, and for as long as the database accepts writes and no shutdown has begun.
 * Registered in application.conf; management instantiates it with the classic system.
 */
public final class EdgeReadiness implements Supplier<CompletionStage<Boolean>> {
  private static final Map<ActorSystem, BooleanSupplier> READY = Collections.synchronizedMap(new WeakHashMap<>());
  private final ActorSystem system;

  public EdgeReadiness(ActorSystem system) { this.system = system; }

  /** Ready from now on, while {@code condition} holds. */
  static void markReady(ActorSystem system, BooleanSupplier condition) { READY.put(system, condition); }

  static void markNotReady(ActorSystem system) { READY.remove(system); }

  @Override public CompletionStage<Boolean> get() {
    BooleanSupplier condition = READY.get(system);
    return CompletableFuture.completedFuture(condition != null && condition.getAsBoolean());
  }
}
