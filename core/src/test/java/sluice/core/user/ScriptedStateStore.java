package sluice.core.user;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.apache.pekko.Done;
import org.apache.pekko.actor.ExtendedActorSystem;
import org.apache.pekko.persistence.state.DurableStateStoreProvider;
import org.apache.pekko.persistence.state.javadsl.DurableStateStore;
import org.apache.pekko.persistence.state.javadsl.DurableStateUpdateStore;
import org.apache.pekko.persistence.state.javadsl.GetObjectResult;
import org.apache.pekko.serialization.Serialization;
import org.apache.pekko.serialization.SerializationExtension;
import org.apache.pekko.serialization.Serializer;
import org.apache.pekko.serialization.Serializers;

/**
 * A durable state store plugin for tests that behaves like pekko-persistence-jdbc's where it matters here: values are
 * stored serialized (Jackson CBOR for {@code CborSerializable}), revision 1 inserts and revision n updates only the
 * object stored at n-1, anything else fails. A test scripts each persistence id through {@link #control}: reads and
 * writes that fail, a write applied but answered as failed (a lost commit answer), and a gate that holds every answer
 * (a slow database). The store lives in static maps: persistence ids must be unique per test.
 */
public final class ScriptedStateStore implements DurableStateStoreProvider {
  public static final String PLUGIN_ID = "sluice.test.scripted-state-store";

  public static Config config() {
    return ConfigFactory.parseString(PLUGIN_ID + ".class = \"" + ScriptedStateStore.class.getName() + "\"");
  }

  /** What the store does for one persistence id; counts what it was asked. */
  public static final class Control {
    public volatile int failReads;
    public volatile int failWrites;
    public volatile int applyButFailWrites;
    /** Every answer waits for this; replace it with an open one (or complete it) to let them through. */
    public volatile CompletableFuture<Void> gate = CompletableFuture.completedFuture(null);
    public final AtomicInteger reads = new AtomicInteger();
    public final AtomicInteger writes = new AtomicInteger();
    public final AtomicInteger failed = new AtomicInteger();
    /** Writes asked for and not yet answered, and the most there ever were at once. */
    public final AtomicInteger writesInFlight = new AtomicInteger();
    public final AtomicInteger maxWritesInFlight = new AtomicInteger();

    public void hold() { gate = new CompletableFuture<>(); }

    public void release() { gate.complete(null); }
  }

  private record Stored(long revision, int serializer, String manifest, byte[] bytes) {}

  private static final Map<String, Stored> objects = new ConcurrentHashMap<>();
  private static final Map<String, Control> controls = new ConcurrentHashMap<>();

  public static Control control(String persistenceId) { return controls.computeIfAbsent(persistenceId, k -> new Control()); }

  /** The revision stored for {@code persistenceId}, 0 if none. */
  public static long revision(String persistenceId) {
    Stored s = objects.get(persistenceId);
    return s == null ? 0 : s.revision();
  }

  private final Store store;

  public ScriptedStateStore(ExtendedActorSystem system) { this.store = new Store(SerializationExtension.get(system)); }

  /** Only the Java API is used (the user actors'); Pekko asks for both when it loads the plugin. */
  @Override public org.apache.pekko.persistence.state.scaladsl.DurableStateStore<Object> scaladslDurableStateStore() { return null; }

  @Override public DurableStateStore<Object> javadslDurableStateStore() { return store; }

  private static final class Store implements DurableStateUpdateStore<Object> {
    private final Serialization serialization;

    Store(Serialization serialization) { this.serialization = serialization; }

    @Override public CompletionStage<GetObjectResult<Object>> getObject(String persistenceId) {
      Control c = control(persistenceId);
      c.reads.incrementAndGet();
      return answer(c, () -> {
        if (c.failReads > 0) {
          c.failReads--;
          throw new IllegalStateException("scripted read failure");
        }
        Stored s = objects.get(persistenceId);
        if (s == null) return new GetObjectResult<>(Optional.empty(), 0);
        return new GetObjectResult<>(Optional.of(serialization.deserialize(s.bytes(), s.serializer(), s.manifest()).get()), s.revision());
      });
    }

    @Override public CompletionStage<Done> upsertObject(String persistenceId, long revision, Object value, String tag) {
      Control c = control(persistenceId);
      c.writes.incrementAndGet();
      c.maxWritesInFlight.accumulateAndGet(c.writesInFlight.incrementAndGet(), Math::max);
      return answer(c, () -> {
        c.writesInFlight.decrementAndGet();
        if (c.failWrites > 0) {
          c.failWrites--;
          throw new IllegalStateException("scripted write failure");
        }
        Serializer ser = serialization.findSerializerFor(value);
        Stored next = new Stored(revision, ser.identifier(), Serializers.manifestFor(ser, value), ser.toBinary(value));
        objects.compute(persistenceId, (id, old) -> {
          long expected = old == null ? 1 : old.revision() + 1;
          if (revision != expected) throw new IllegalStateException("Incorrect revision number [" + revision + "] for " + id);
          return next;
        });
        if (c.applyButFailWrites > 0) {
          c.applyButFailWrites--;
          throw new IllegalStateException("scripted lost answer (the write was applied)");
        }
        return Done.getInstance();
      });
    }

    @Override public CompletionStage<Done> deleteObject(String persistenceId) { return deleteObject(persistenceId, 0); }

    @Override public CompletionStage<Done> deleteObject(String persistenceId, long revision) {
      objects.remove(persistenceId);
      return CompletableFuture.completedFuture(Done.getInstance());
    }

    /** Runs {@code work} once the gate opens, so a held answer reflects the store as it is when it is let through. */
    private static <T> CompletionStage<T> answer(Control c, Supplier<T> work) {
      return c.gate.thenApplyAsync(ignored -> {
        try {
          return work.get();
        } catch (RuntimeException e) {
          c.failed.incrementAndGet();
          throw e;
        }
      });
    }
  }
}
