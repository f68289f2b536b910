package sluice.persistence.usage;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigException;
import java.time.Duration;
import sluice.core.policy.Backoff;

/**
 * How {@link UsageWriter} batches (see {@code sluice.usage} in reference.conf).
 *
 * @param batchSize     most records per insert
 * @param flushInterval longest a record waits before its batch is written
 * @param maxBuffered   records held in memory (waiting or being written) before new ones are dropped
 * @param retry         wait between attempts to write a failed batch
 */
public record UsageWriterSettings(int batchSize, Duration flushInterval, int maxBuffered, Backoff retry) {
  public static final Backoff DEFAULT_RETRY = new Backoff(Duration.ofSeconds(1), Duration.ofSeconds(30));

  public UsageWriterSettings {
    if (batchSize < 1) throw new IllegalArgumentException("batch-size must be >= 1: " + batchSize);
    if (flushInterval == null || !positive(flushInterval)) {
      throw new IllegalArgumentException("flush-interval must be > 0: " + flushInterval);
    }
    if (maxBuffered < 1) throw new IllegalArgumentException("max-buffered must be >= 1: " + maxBuffered);
    if (retry == null || !positive(retry.min()) || retry.max().compareTo(retry.min()) < 0) {
      throw new IllegalArgumentException("retry backoff needs 0 < min <= max: " + retry);
    }
  }

  /** With the default retry backoff (1 s doubling to 30 s). */
  public UsageWriterSettings(int batchSize, Duration flushInterval, int maxBuffered) {
    this(batchSize, flushInterval, maxBuffered, DEFAULT_RETRY);
  }

  public static UsageWriterSettings from(Config root) {
    Config c = root.getConfig("sluice.usage");
    int batchSize = c.getInt("batch-size");
    if (batchSize < 1) throw new ConfigException.BadValue(c.origin(), "sluice.usage.batch-size", "must be >= 1");
    Duration flush = c.getDuration("flush-interval");
    if (!positive(flush)) throw new ConfigException.BadValue(c.origin(), "sluice.usage.flush-interval", "must be > 0");
    int maxBuffered = c.getInt("max-buffered");
    if (maxBuffered < 1) throw new ConfigException.BadValue(c.origin(), "sluice.usage.max-buffered", "must be >= 1");
    Duration min = c.getDuration("retry-backoff.min");
    Duration max = c.getDuration("retry-backoff.max");
    if (!positive(min)) throw new ConfigException.BadValue(c.origin(), "sluice.usage.retry-backoff.min", "must be > 0");
    if (max.compareTo(min) < 0) throw new ConfigException.BadValue(c.origin(), "sluice.usage.retry-backoff.max", "must be >= min");
    return new UsageWriterSettings(batchSize, flush, maxBuffered, new Backoff(min, max));
  }

  private static boolean positive(Duration d) { return !d.isNegative() && !d.isZero(); }
}
