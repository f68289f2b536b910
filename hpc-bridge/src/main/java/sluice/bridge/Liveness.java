package sluice.bridge;

import java.time.Duration;
import java.util.ArrayDeque;

/**
 * Whether an agent answers its pings: the agent is unresponsive once a ping has waited a whole timeout without an
 * answer, and responsive again at the next answer. Only ping answers count: the agent's reader answers a ping as soon as
 * it reads it, never waiting for a model server or a Slurm command, so a slow model is never taken for a frozen agent.
 * Thread-safe; time comes from an injected {@link Ticker}.
 */
public final class Liveness {
  private final Ticker ticker;
  private final ArrayDeque<Long> unanswered = new ArrayDeque<>();   // send times, oldest first; guarded by this
  private long lastAnswer;                                           // guarded by this
  private boolean unresponsive;                                      // guarded by this

  /** A connection that has just answered (its handshake). */
  public Liveness(Ticker ticker) {
    this.ticker = ticker;
    this.lastAnswer = ticker.nanos();
  }

  /** A ping goes out now; returns its send time, to hand to {@link #answered}. */
  public synchronized long pingSent() {
    long now = ticker.nanos();
    unanswered.addLast(now);
    return now;
  }

  /**
   * The ping sent at {@code sentAt} was answered. Pings are answered in order, so older ones still waiting will not be
   * (the agent dropped them) and are forgotten. Returns true when this ends an unresponsive spell.
   */
  public synchronized boolean answered(long sentAt) {
    lastAnswer = ticker.nanos();
    while (!unanswered.isEmpty() && unanswered.peekFirst() - sentAt <= 0) unanswered.removeFirst();
    boolean wasUnresponsive = unresponsive;
    unresponsive = false;
    return wasUnresponsive;
  }

  /** Checks the oldest waiting ping against {@code timeout}; returns true when this starts an unresponsive spell. */
  public synchronized boolean overdue(Duration timeout) {
    if (unresponsive || unanswered.isEmpty() || ticker.nanos() - unanswered.peekFirst() < timeout.toNanos()) return false;
    unresponsive = true;
    return true;
  }

  public synchronized boolean unresponsive() { return unresponsive; }

  /** Time since the agent last answered (its handshake, if no ping yet). */
  public synchronized Duration silence() { return Duration.ofNanos(ticker.nanos() - lastAnswer); }
}
