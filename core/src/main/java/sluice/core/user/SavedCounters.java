package sluice.core.user;

import java.time.Instant;
import java.util.List;
import sluice.core.CborSerializable;
import sluice.core.user.UserActor.ScopeCount;

/**
 * A user's counters of the current windows, stored as ONE durable-state object per user ({@link CounterCheckpoints}),
 * overwritten at each checkpoint. Its class name is part of the stored format (the durable state's manifest).
 */
public record SavedCounters(List<ScopeCount> scopes, Instant at) implements CborSerializable {
  public SavedCounters {
    scopes = List.copyOf(scopes);
  }
}
