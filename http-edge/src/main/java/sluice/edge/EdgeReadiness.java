package sluice.edge;

import java.util.Collections;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Supplier;
import org.apache.pekko.actor.ActorSystem;

/**
 * Readiness check for pekko-management's {@code /ready}: true once the gateway has bound its API port with the
 * journal and sharding started. Registered in application.conf; management instantiates it with the classic system.
 */
public final class EdgeReadiness implements Supplier<CompletionStage<Boolean>> {
  private static final Set<ActorSystem> READY = Collections.newSetFromMap(
      Collections.synchronizedMap(new WeakHashMap<>()));
  private final ActorSystem system;

  public EdgeReadiness(ActorSystem system) { this.system = system; }

  static void markReady(ActorSystem system) { READY.add(system); }

  static void markNotReady(ActorSystem system) { READY.remove(system); }

  @Override public CompletionStage<Boolean> get() {
    return CompletableFuture.completedFuture(READY.contains(system));
  }

}
