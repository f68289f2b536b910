package sluice.core.cluster;

import java.util.Objects;
import java.util.Optional;

/** A cluster call failed, for the {@link ClusterFailure reason} given; the message says what happened, for people. */
public final class ClusterException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final ClusterFailure reason;

  public ClusterException(ClusterFailure reason, String message) {
    super(message);
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  public ClusterFailure reason() { return reason; }

  /** The cluster failure behind {@code t}, looking through the wrappers of completion stages. */
  public static Optional<ClusterException> in(Throwable t) {
    for (Throwable c = t; c != null; c = c.getCause() == c ? null : c.getCause()) {
      if (c instanceof ClusterException e) return Optional.of(e);
    }
    return Optional.empty();
  }
}
