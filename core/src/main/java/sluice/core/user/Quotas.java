package sluice.core.user;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import sluice.core.ids.UserId;
import sluice.core.user.Admission.Admitted;
import sluice.core.user.Admission.Refused;
import sluice.core.user.RateInfo.WindowState;
import sluice.core.user.UserActor.Key;
import sluice.core.user.UserActor.ScopeCount;
import sluice.core.user.UserActor.WindowCount;

/**
 * One user's quota engine: the window counters of each scope, the reservations of the requests in flight, and the
 * admission decisions made from them. No actor, no clock, no I/O: the user actor is its single writer, passes the time
 * in, and persists and logs what it returns.
 *
 * <p>Admission counts the request in every window of every scope that applies and reserves its tokens; settling
 * replaces the reservation with the real usage. Reservations live in memory only: a restart forgets them.
 */
final class Quotas {
  private static final String USER_SCOPE = "user";

  /** A scope that applies to one request: its counters' id (stored in checkpoints), how messages name it, its limits. */
  record Applying(String id, String label, Limits limits) {
    /** The scopes a request must fit: the user, the user on the model, and the key ({@code key} null: none). */
    static List<Applying> forRequest(UserId user, UserLimits effective, String model, Key key) {
      Applying u = user(user, effective.user());
      Applying m = model(user, model, effective.forModel(model));
      return key == null ? List.of(u, m) : List.of(u, m, key(key.id(), key.limits()));
    }

    static Applying user(UserId user, Limits limits) { return new Applying(USER_SCOPE, "user " + user, limits); }

    static Applying model(UserId user, String model, Limits limits) {
      return new Applying("model:" + model, "user " + user + " on model " + model, limits);
    }

    static Applying key(String keyId, Limits limits) { return new Applying("key:" + keyId, "key " + keyId, limits); }
  }

  /** A limit that refuses a request, as the client is told. */
  record Refusal(AdmissionRefusal reason, String message, long retryAfterSeconds) {
    /**
     * The refusal the client is told about: the one it must wait longest for, then the more specific kind (the later
     * constant); on a full tie the first found. Null stands for no refusal.
     */
    static Refusal worse(Refusal a, Refusal b) {
      if (a == null) return b;
      if (b == null) return a;
      if (b.retryAfterSeconds != a.retryAfterSeconds) return b.retryAfterSeconds > a.retryAfterSeconds ? b : a;
      return b.reason.compareTo(a.reason) > 0 ? b : a;
    }
  }

  /** The answer to an admission: {@code refusal} is null when the request is counted (now or by an earlier try). */
  record Decision(Refusal refusal, RateInfo rate) {
    boolean admitted() { return refusal == null; }

    Admission toAdmission(String userId, String keyId) {
      return refusal == null ? new Admitted(userId, keyId, rate)
          : new Refused(refusal.reason(), refusal.message(), refusal.retryAfterSeconds(), keyId, rate);
    }
  }

  /** The user scope's current windows, per window label, and its requests in flight: what the admin API shows. */
  record Usage(Map<String, Long> requests, Map<String, Long> tokens, int inFlight) {}

  private static final class Counter {
    final Instant start;
    long requests;
    long tokens;

    Counter(Instant start) { this.start = start; }

    boolean isCurrent(Window w, Instant now) { return start.equals(w.start(now)); }
  }

  private static final class Scope {
    final Map<Window, Counter> windows = new EnumMap<>(Window.class);
    int inFlight;

    /** The counter of the window containing {@code now}, a fresh one once the window has rolled over. */
    Counter at(Window w, Instant now) {
      Counter c = windows.get(w);
      if (c == null || !c.isCurrent(w, now)) {
        c = new Counter(w.start(now));
        windows.put(w, c);
      }
      return c;
    }

    long requests(Window w, Instant now) {
      Counter c = windows.get(w);
      return c != null && c.isCurrent(w, now) ? c.requests : 0;
    }

    long tokens(Window w, Instant now) {
      Counter c = windows.get(w);
      return c != null && c.isCurrent(w, now) ? c.tokens : 0;
    }

    boolean isEmpty(Instant now) {
      if (inFlight > 0) return false;
      for (Map.Entry<Window, Counter> e : windows.entrySet()) if (e.getValue().isCurrent(e.getKey(), now)) return false;
      return true;
    }
  }

  private static final Scope NO_SCOPE = new Scope();

  /** @param node the gateway node of the request ("" for this node), for {@link #nodeLeft} */
  private record Reservation(List<String> scopes, long reserved, Instant admittedAt, String node) {}

  private final Duration reservationTimeout;
  private final Map<String, Scope> scopes = new HashMap<>();
  private final Map<String, Reservation> reservations = new HashMap<>();
  private boolean changed;

  /** @param reservationTimeout a reservation older than this stops counting as in flight at the next sweep */
  Quotas(Duration reservationTimeout) { this.reservationTimeout = reservationTimeout; }

  /**
   * Refuses the request if any scope's limit would be exceeded, else counts it in every scope and reserves
   * {@code reserveTokens}. An admission id already counted is admitted again without counting (a retried ask).
   */
  Decision admit(String requestId, List<Applying> applying, long reserveTokens, Instant now) {
    return admit(requestId, applying, reserveTokens, now, "");
  }

  /** {@link #admit} of a request on gateway node {@code node} ("" for this node). */
  Decision admit(String requestId, List<Applying> applying, long reserveTokens, Instant now, String node) {
    if (reservations.containsKey(requestId)) return new Decision(null, rate(applying, now));

    Refusal worst = null;
    for (Applying ap : applying) worst = Refusal.worse(worst, refusal(ap, scope(ap.id()), reserveTokens, now));
    if (worst != null) return new Decision(worst, rate(applying, now));

    List<String> ids = new ArrayList<>(applying.size());
    for (Applying ap : applying) {
      Scope sc = scopes.computeIfAbsent(ap.id(), id -> new Scope());
      for (Window w : Window.values()) {
        Counter c = sc.at(w, now);
        c.requests = plus(c.requests, 1);
        c.tokens = plus(c.tokens, reserveTokens);
      }
      sc.inFlight++;
      ids.add(ap.id());
    }
    reservations.put(requestId, new Reservation(List.copyOf(ids), reserveTokens, now, node));
    changed = true;
    return new Decision(null, rate(applying, now));
  }

  /** The worst refusal of one scope's limits, or null if the request fits them. */
  private static Refusal refusal(Applying ap, Scope sc, long reserveTokens, Instant now) {
    Limits l = ap.limits();
    Refusal worst = null;
    if (l.concurrent() != null && sc.inFlight >= l.concurrent()) {
      worst = new Refusal(AdmissionRefusal.CONCURRENCY_LIMIT, "Concurrency limit reached: " + l.concurrent()
          + " requests in flight for " + ap.label() + "; retry in 1 s", 1);
    }
    for (Map.Entry<Window, Long> e : l.requests().entrySet()) {
      Window w = e.getKey();
      if (plus(sc.requests(w, now), 1) > e.getValue()) {
        long retry = secondsUntil(now, w.end(now));
        worst = Refusal.worse(worst, new Refusal(AdmissionRefusal.REQUEST_RATE_LIMIT, "Rate limit reached: " + e.getValue()
            + " requests per " + w.label() + " for " + ap.label() + "; retry in " + retry + " s", retry));
      }
    }
    for (Map.Entry<Window, Long> e : l.tokens().entrySet()) {
      Window w = e.getKey();
      long used = sc.tokens(w, now);
      long limit = e.getValue();
      // An empty window admits one request whatever its reservation: a max_tokens above the limit is not refused forever.
      if (used >= limit || (used > 0 && plus(used, reserveTokens) > limit)) {
        long retry = secondsUntil(now, w.end(now));
        String amounts = " (" + used + " used, " + reserveTokens + " requested)";
        worst = Refusal.worse(worst, w == Window.DAY || w == Window.MONTH
            ? new Refusal(AdmissionRefusal.TOKEN_BUDGET, "Token budget exhausted: " + limit + " tokens per "
                + w.label() + " for " + ap.label() + amounts + "; it resets in " + retry + " s", retry)
            : new Refusal(AdmissionRefusal.TOKEN_RATE_LIMIT, "Rate limit reached: " + limit + " tokens per " + w.label()
                + " for " + ap.label() + amounts + "; retry in " + retry + " s", retry));
      }
    }
    return worst;
  }

  /**
   * {@code a + b}, stopping at the largest (or smallest) long instead of wrapping: a client's max_tokens or a model
   * server's usage near 2^63 must neither turn a counter negative nor slip past a limit.
   */
  static long plus(long a, long b) {
    long sum = a + b;
    if (((a ^ sum) & (b ^ sum)) < 0) return a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE;   // both signs flipped: overflow
    return sum;
  }

  /** Whole seconds, rounded up and at least 1, so a client that waits that long finds the window over. */
  static long secondsUntil(Instant now, Instant end) {
    long millis = Duration.between(now, end).toMillis();
    return Math.max(1, (millis + 999) / 1000);
  }

  /** Per window with a limit in any scope, the scope with the fewest remaining; the tightest concurrency limit. */
  RateInfo rate(List<Applying> applying, Instant now) {
    List<WindowState> requests = new ArrayList<>();
    List<WindowState> tokens = new ArrayList<>();
    for (Window w : Window.values()) {
      WindowState r = null;
      WindowState t = null;
      for (Applying ap : applying) {
        Scope sc = scope(ap.id());
        Long rl = ap.limits().requests().get(w);
        if (rl != null) r = fewer(r, new WindowState(w, rl, Math.max(0, rl - sc.requests(w, now)), w.end(now)));
        Long tl = ap.limits().tokens().get(w);
        if (tl != null) t = fewer(t, new WindowState(w, tl, Math.max(0, tl - sc.tokens(w, now)), w.end(now)));
      }
      if (r != null) requests.add(r);
      if (t != null) tokens.add(t);
    }
    Integer concurrent = null;
    int inFlight = scope(USER_SCOPE).inFlight;
    for (Applying ap : applying) {
      Integer c = ap.limits().concurrent();
      if (c != null && (concurrent == null || c < concurrent)) {
        concurrent = c;
        inFlight = scope(ap.id()).inFlight;
      }
    }
    return new RateInfo(requests, tokens, concurrent, inFlight);
  }

  private static WindowState fewer(WindowState a, WindowState b) { return a == null || b.remaining() < a.remaining() ? b : a; }

  /**
   * Ends an admitted request: frees its concurrency slots and replaces its reservation with {@code usedTokens}.
   * Returns false, changing nothing, for an admission id not in flight (settled already, swept, or never admitted).
   */
  boolean settle(String requestId, long usedTokens, Instant now) {
    Reservation r = reservations.remove(requestId);
    if (r == null) return false;
    for (String id : r.scopes()) {
      Scope sc = scopes.computeIfAbsent(id, k -> new Scope());
      sc.inFlight = Math.max(0, sc.inFlight - 1);
      for (Window w : Window.values()) {
        Counter counter = sc.at(w, now);
        // The reservation sits in the window it was made in; once that has rolled over only the real usage counts.
        if (counter.start.equals(w.start(r.admittedAt()))) counter.tokens = Math.max(0, plus(counter.tokens - r.reserved(), usedTokens));
        else counter.tokens = plus(counter.tokens, usedTokens);
      }
    }
    changed = true;
    return true;
  }

  /**
   * Drops reservations nobody settled within the reservation timeout (their edge node died): frees their concurrency,
   * while their tokens stay counted. Forgets scopes with nothing left to count. Returns how many were dropped.
   */
  int sweep(Instant now) {
    Instant oldest = now.minus(reservationTimeout);
    int dropped = drop(r -> !r.admittedAt().isAfter(oldest));
    scopes.values().removeIf(sc -> sc.isEmpty(now));
    return dropped;
  }

  /**
   * A gateway node left the cluster: its requests in flight will never be settled. Frees their concurrency at once
   * (their reserved tokens stay counted, as in a sweep). Returns how many were dropped.
   */
  int nodeLeft(String node) { return node.isEmpty() ? 0 : drop(r -> r.node().equals(node)); }

  private int drop(Predicate<Reservation> which) {
    int dropped = 0;
    for (Iterator<Reservation> it = reservations.values().iterator(); it.hasNext(); ) {
      Reservation r = it.next();
      if (!which.test(r)) continue;
      it.remove();
      dropped++;
      for (String id : r.scopes()) {
        Scope sc = scopes.get(id);
        if (sc != null) sc.inFlight = Math.max(0, sc.inFlight - 1);
      }
    }
    if (dropped > 0) changed = true;
    return dropped;
  }

  /** Requests admitted and not yet settled or swept: while there are any, the actor must not passivate. */
  boolean hasReservations() { return !reservations.isEmpty(); }

  /** Whether the counters changed since the last {@link #checkpoint} or {@link #restore}. */
  boolean changed() { return changed; }

  /** The last checkpoint was not saved: count the counters as changed, so the next one saves them. */
  void unsaved() { changed = true; }

  /** The non-zero counters of the current windows, by scope id, to persist; marks them saved. */
  List<ScopeCount> checkpoint(Instant now) {
    changed = false;
    List<ScopeCount> out = new ArrayList<>();
    scopes.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
      List<WindowCount> windows = new ArrayList<>();
      for (Window w : Window.values()) {
        Counter c = e.getValue().windows.get(w);
        if (c != null && c.isCurrent(w, now) && (c.requests > 0 || c.tokens > 0)) {
          windows.add(new WindowCount(w, c.start, c.requests, c.tokens));
        }
      }
      if (!windows.isEmpty()) out.add(new ScopeCount(e.getKey(), windows));
    });
    return out;
  }

  /** Starts over from saved counters: windows that have ended since are dropped; no reservation survives. */
  void restore(List<ScopeCount> saved, Instant now) {
    scopes.clear();
    reservations.clear();
    changed = false;
    for (ScopeCount sc : saved) {
      for (WindowCount wc : sc.windows()) {
        if (!wc.start().equals(wc.window().start(now))) continue;
        Counter c = new Counter(wc.start());
        c.requests = wc.requests();
        c.tokens = wc.tokens();
        scopes.computeIfAbsent(sc.scope(), k -> new Scope()).windows.put(wc.window(), c);
      }
    }
  }

  Usage usage(Instant now) {
    Scope u = scope(USER_SCOPE);
    Map<String, Long> requests = new HashMap<>();
    Map<String, Long> tokens = new HashMap<>();
    for (Window w : Window.values()) {
      requests.put(w.label(), u.requests(w, now));
      tokens.put(w.label(), u.tokens(w, now));
    }
    return new Usage(Map.copyOf(requests), Map.copyOf(tokens), u.inFlight);
  }

  private Scope scope(String id) { return scopes.getOrDefault(id, NO_SCOPE); }
}
