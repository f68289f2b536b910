package sluice.bridge;

/**
 * A monotonic count of nanoseconds, for measuring how old something is. Production reads {@link System#nanoTime()}
 * (never the wall clock, which NTP may set back); tests move their own ticker instead of sleeping.
 */
@FunctionalInterface
public interface Ticker {
  Ticker SYSTEM = System::nanoTime;

  /** Nanoseconds since an arbitrary origin; only differences between two readings mean anything. */
  long nanos();
}
