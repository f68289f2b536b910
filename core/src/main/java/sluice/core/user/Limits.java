package sluice.core.user;

import java.util.EnumMap;
import java.util.Map;
import sluice.core.CborSerializable;

/**
 * The limits of one scope (a user, a user on one model, or one key). A window missing from a map, or a null
 * {@code concurrent}, means no limit of that kind at this scope. A request must fit every scope that applies to it.
 *
 * @param requests   requests allowed per window
 * @param tokens     tokens (prompt + completion) allowed per window; the day and month windows are the token budgets
 * @param concurrent requests allowed in flight at once, or null
 */
public record Limits(Map<Window, Long> requests, Map<Window, Long> tokens, Integer concurrent) implements CborSerializable {
  public static final Limits NONE = new Limits(Map.of(), Map.of(), null);

  public Limits {
    requests = copy(requests);
    tokens = copy(tokens);
    requests.values().forEach(v -> { if (v < 0) throw new IllegalArgumentException("a request limit must be >= 0"); });
    tokens.values().forEach(v -> { if (v < 0) throw new IllegalArgumentException("a token limit must be >= 0"); });
    if (concurrent != null && concurrent < 0) throw new IllegalArgumentException("concurrent must be >= 0");
  }

  public boolean isEmpty() { return requests.isEmpty() && tokens.isEmpty() && concurrent == null; }

  /** These limits with every entry that {@code over} sets replaced by its value (field by field, window by window). */
  public Limits overriddenBy(Limits over) {
    if (over == null || over.isEmpty()) return this;
    Map<Window, Long> r = new EnumMap<>(Window.class);
    r.putAll(requests);
    r.putAll(over.requests);
    Map<Window, Long> t = new EnumMap<>(Window.class);
    t.putAll(tokens);
    t.putAll(over.tokens);
    return new Limits(r, t, over.concurrent != null ? over.concurrent : concurrent);
  }

  private static Map<Window, Long> copy(Map<Window, Long> m) {
    if (m == null || m.isEmpty()) return Map.of();
    return Map.copyOf(new EnumMap<>(m));
  }
}
