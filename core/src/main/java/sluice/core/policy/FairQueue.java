package sluice.core.policy;

import java.util.ArrayDeque;
import java.util.HashMap;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;

/**
 * The admission queue of one service: one FIFO per user, served round robin, so a user who sends a hundred requests
 * waits behind their own requests, not in front of everybody else's. Entries are keyed by a unique id so a request
 * that times out or goes away leaves the queue at once. Not thread-safe: it belongs to one actor.
 */
public final class FairQueue<T> {
  private record Entry<T>(String id, String user, T value) {}

  // Users with waiting requests, in the order they are served next; a served user moves to the back.
  private final LinkedHashMap<String, ArrayDeque<Entry<T>>> byUser = new LinkedHashMap<>();
  private final Map<String, Entry<T>> byId = new HashMap<>();

  public int size() { return byId.size(); }

  public boolean isEmpty() { return byId.isEmpty(); }

  public boolean contains(String id) { return byId.containsKey(id); }

  public void add(String id, String user, T value) {
    if (byId.containsKey(id)) throw new IllegalArgumentException("already queued: " + id);
    Entry<T> e = new Entry<>(id, user, value);
    byId.put(id, e);
    byUser.computeIfAbsent(user, u -> new ArrayDeque<>()).addLast(e);
  }

  /** Takes the next request: the oldest one of the user whose turn it is. */
  public Optional<Map.Entry<String, T>> poll() {
    Iterator<Map.Entry<String, ArrayDeque<Entry<T>>>> users = byUser.entrySet().iterator();
    if (!users.hasNext()) return Optional.empty();
    Map.Entry<String, ArrayDeque<Entry<T>>> first = users.next();
    Entry<T> e = first.getValue().pollFirst();
    users.remove();
    if (!first.getValue().isEmpty()) byUser.put(first.getKey(), first.getValue());   // to the back of the round
    byId.remove(e.id());
    return Optional.of(Map.entry(e.id(), e.value()));
  }

  /** A waiting request's new value (a repeated request's new reply address); it keeps its place. False if not queued. */
  public boolean replace(String id, T value) {
    Entry<T> old = byId.get(id);
    if (old == null) return false;
    Entry<T> e = new Entry<>(id, old.user(), value);
    byId.put(id, e);
    ArrayDeque<Entry<T>> renewed = new ArrayDeque<>();
    for (Entry<T> x : byUser.get(old.user())) renewed.addLast(x == old ? e : x);
    byUser.put(old.user(), renewed);                           // an existing key keeps its place in the round
    return true;
  }

  public Optional<T> remove(String id) {
    Entry<T> e = byId.remove(id);
    if (e == null) return Optional.empty();
    ArrayDeque<Entry<T>> q = byUser.get(e.user());
    q.remove(e);
    if (q.isEmpty()) byUser.remove(e.user());
    return Optional.of(e.value());
  }

  /** Requests waiting per user, for the admin API. */
  public Map<String, Integer> perUser() {
    Map<String, Integer> m = new LinkedHashMap<>();
    byUser.forEach((u, q) -> m.put(u, q.size()));
    return m;
  }
}
