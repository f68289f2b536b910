package sluice.agent.testing;

import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * Waits in tests for a state that arrives on another thread or process: polls until a condition holds, and fails with
 * an {@link AssertionError} naming what it waited for and the last value it saw. JDK only, so every module's tests
 * can use it (slurm-agent's test sources are published as a test-jar).
 *
 * <p>The pause between polls starts short and doubles up to {@link #MAX_PAUSE}: a state that is a moment away is seen
 * at once, and a long wait (a Slurm job starting) does not ask slurmctld many times a second.
 *
 * <p>An exception thrown by the condition fails the wait at once, as it would have failed the test without waiting.
 * When an exception means "not yet" (the agent is restarting), say which with {@link #ignoring}.
 */
public final class Await {
  private Await() {}

  static final Duration FIRST_PAUSE = Duration.ofMillis(10);
  static final Duration MAX_PAUSE = Duration.ofMillis(200);

  /** A condition that may throw, as the calls tests wait on do (I/O, futures, the scheduler). */
  @FunctionalInterface
  public interface Condition {
    boolean holds() throws Exception;
  }

  /** Reads the value a wait is about. */
  @FunctionalInterface
  public interface Probe<T> {
    T read() throws Exception;
  }

  /** Waits until {@code condition} holds. */
  public static void until(Duration timeout, String what, Condition condition) throws Exception {
    poll(timeout, what, null, condition::holds, Boolean::booleanValue);
  }

  /** Waits until {@code probe} reads a value that satisfies {@code done}, and returns that value. */
  public static <T> T until(Duration timeout, String what, Probe<T> probe, Predicate<? super T> done) throws Exception {
    return poll(timeout, what, null, probe, done);
  }

  /** Waits in which an exception of type {@code notYet} (or a subtype) counts as "not yet", not as a failure. */
  public static Ignoring ignoring(Class<? extends Exception> notYet) {
    return new Ignoring(Objects.requireNonNull(notYet, "notYet"));
  }

  /** The waits of {@link Await}, with exceptions of one type counting as "not yet"; the last one is reported. */
  public record Ignoring(Class<? extends Exception> notYet) {
    public void until(Duration timeout, String what, Condition condition) throws Exception {
      poll(timeout, what, notYet, condition::holds, Boolean::booleanValue);
    }

    public <T> T until(Duration timeout, String what, Probe<T> probe, Predicate<? super T> done) throws Exception {
      return poll(timeout, what, notYet, probe, done);
    }
  }

  private static <T> T poll(Duration timeout, String what, Class<? extends Exception> notYet, Probe<T> probe,
                            Predicate<? super T> done) throws Exception {
    long deadline = System.nanoTime() + timeout.toNanos();
    long pause = FIRST_PAUSE.toNanos();
    Object last = null;                                  // the last value read, or the last exception taken as "not yet"
    while (true) {
      try {
        T value = probe.read();
        if (done.test(value)) return value;
        last = value;
      } catch (Exception e) {
        if (notYet == null || !notYet.isInstance(e)) throw e;
        last = e;
      }
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        AssertionError failure = new AssertionError("timed out after " + format(timeout) + " waiting for " + what
            + "; last seen: " + last);
        if (last instanceof Throwable t) failure.initCause(t);
        throw failure;
      }
      TimeUnit.NANOSECONDS.sleep(Math.min(pause, left));
      pause = Math.min(pause * 2, MAX_PAUSE.toNanos());
    }
  }

  private static String format(Duration d) {
    return d.toMillis() % 1000 == 0 ? d.toSeconds() + " s" : d.toMillis() + " ms";
  }
}
