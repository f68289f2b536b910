package sluice.persistence;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.pekko.Done;
import org.apache.pekko.actor.CoordinatedShutdown;
import org.apache.pekko.actor.typed.ActorSystem;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the journal's database accepts writes. A probe writes one row every {@code probe-interval}, and writers
 * report their failures at once; while writes fail, the gateway refuses what would write (503
 * {@code storage_unavailable}) and is not ready. The next successful probe ends that by itself: nothing is reopened
 * by hand, since a new connection reopens an H2 file that closed itself on a write error, and PostgreSQL connections
 * are simply made anew.
 */
public final class StorageHealth {
  private static final Logger LOG = LoggerFactory.getLogger(StorageHealth.class);

  /** One small write to the database; throws when it does not work. */
  @FunctionalInterface
  public interface Probe {
    void write() throws Exception;
  }

  /**
   * {@code sluice.storage}: how often to probe, the Retry-After of the 503s while writes fail, and the free space below
   * which the embedded database's folder counts as full.
   */
  public record Settings(Duration probeInterval, Duration retryAfter, long minFreeSpace, Duration recoveryGrace) {
    public static Settings from(Config root) {
      Config c = root.getConfig("sluice.storage");
      Duration probe = c.getDuration("probe-interval");
      Duration retry = c.getDuration("retry-after");
      long minFree = c.getBytes("min-free-space");
      Duration grace = c.getDuration("recovery-grace");
      if (grace.isNegative()) throw new ConfigException.BadValue("sluice.storage.recovery-grace", "must not be negative");
      if (probe.isNegative() || probe.isZero()) throw new ConfigException.BadValue("sluice.storage.probe-interval", "must be positive");
      if (retry.toSeconds() < 1) throw new ConfigException.BadValue("sluice.storage.retry-after", "must be at least 1s");
      if (minFree < 0) throw new ConfigException.BadValue("sluice.storage.min-free-space", "must not be negative");
      return new Settings(probe, retry, minFree, grace);
    }
  }

  private final Settings settings;
  private final AtomicReference<String> problem = new AtomicReference<>();   // null while writes work
  private volatile boolean stopped;
  private volatile long recoveredAtNanos;                               // when writes last came back
  private volatile boolean everFailed;

  StorageHealth(Settings settings) { this.settings = settings; }

  /** Probes once now (so a database that cannot be written is known before the first request), then every interval. */
  public static StorageHealth start(ActorSystem<?> system, Probe probe, Settings settings, Executor blocking) {
    StorageHealth health = new StorageHealth(settings);
    health.probeWith(probe);
    AtomicBoolean probing = new AtomicBoolean();
    var probes = system.scheduler().scheduleWithFixedDelay(settings.probeInterval(), settings.probeInterval(), () -> {
      if (!probing.compareAndSet(false, true)) return;                 // a slow probe is still running
      try {
        blocking.execute(() -> {
          try {
            health.probeWith(probe);
          } finally {
            probing.set(false);
          }
        });
      } catch (RejectedExecutionException e) {
        probing.set(false);                                            // shutting down
      }
    }, system.executionContext());
    // The usage store closes in service-stop: stop probing before, or the last probe would report a closed store.
    CoordinatedShutdown.get(system).addTask(CoordinatedShutdown.PhaseServiceUnbind(), "storage-probe", () -> {
      probes.cancel();
      health.stopped = true;
      return CompletableFuture.completedFuture(Done.getInstance());
    });
    return health;
  }

  void probeWith(Probe probe) {
    if (stopped) return;
    try {
      probe.write();
      recovered();
    } catch (Exception e) {
      failed("the storage probe", e);
    }
  }

  /** Writes work: on a change, logged once. */
  void recovered() {
    String was = problem.getAndSet(null);
    if (was != null) {
      recoveredAtNanos = System.nanoTime();
      LOG.warn("the database accepts writes again (it failed with: {})", was);
    }
  }

  /** A write failed ({@code what} names the writer): requests that write are refused until a probe succeeds. */
  public void failed(String what, Throwable cause) {
    String reason = what + " failed: " + firstLine(cause);
    everFailed = true;
    if (problem.getAndSet(reason) == null) {
      LOG.error("the database does not accept writes ({}); refusing requests with 503 until a probe write works", reason);
    }
  }

  /** Whether the last probe (or write) worked. */
  public boolean writable() { return problem.get() == null; }

  /**
   * Writes fail, or came back less than {@code recovery-grace} ago: actors whose journal calls failed during the
   * outage are still restarting (their back-off, the journal's circuit breakers), so an unanswered ask is that outage.
   */
  public boolean recovering() {
    return !writable() || everFailed && System.nanoTime() - recoveredAtNanos < settings.recoveryGrace().toNanos();
  }

  /** Why writes fail, while they do. */
  public Optional<String> problem() { return Optional.ofNullable(problem.get()); }

  /** The Retry-After of refusals while writes fail. */
  public Duration retryAfter() { return settings.retryAfter(); }

  private static String firstLine(Throwable t) {
    String m = String.valueOf(t.getMessage());
    int nl = m.indexOf('\n');
    return nl < 0 ? m : m.substring(0, nl);
  }
}
