package sluice.core.user;

import java.time.Instant;
import java.util.List;
import sluice.core.CborSerializable;

/**
 * The state of the limits that applied to one request, after it was counted: what the edge turns into
 * {@code x-ratelimit-*} headers. Per window, the scope with the fewest remaining is reported.
 */
public record RateInfo(List<WindowState> requests, List<WindowState> tokens, Integer concurrentLimit, int inFlight)
    implements CborSerializable {
  public static final RateInfo NONE = new RateInfo(List.of(), List.of(), null, 0);

  public RateInfo {
    requests = List.copyOf(requests);
    tokens = List.copyOf(tokens);
  }

  /** One window of one kind: its limit, what is left of it (never negative) and when it resets. */
  public record WindowState(Window window, long limit, long remaining, Instant resetAt) implements CborSerializable {}
}
