package sluice.bench;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import sluice.core.user.Limits;
import sluice.core.user.UserActor;
import sluice.core.user.UserLimits;
import sluice.core.user.Window;

/**
 * What {@code bench --journal} writes: the users, their histories (as UserActor would have written them) and the keys
 * the key index must find afterwards. Deterministic, so the probe JVMs recompute the expected index from the event
 * count alone; events are made one at a time, so a million of them never sit in memory together.
 *
 * <p>Two kinds of user. {@code users} ordinary ones (ids {@code user-00000}…) share the bulk of the events: a
 * {@code UserCreated}, one to four {@code KeyCreated}, for every tenth user a {@code KeyRevoked}, and otherwise
 * {@code CountersSaved}, the counter checkpoints the previous release wrote every 5 s per active user. The key events
 * fall in the first nine tenths of a history ({@link #mixedRounds}), each user's at other positions, so they are
 * spread over the journal as users made keys over time; the last tenth is checkpoints only, which lets the fill
 * measure both of the plugin's insert paths (a transaction with any tagged row takes the slower one).
 * {@code 2 × subjects} long-history users ({@code long-00}…) have {@code historyLength} events each (three keys, the
 * rest checkpoints): the users whose recovery is timed, the second half of them with a snapshot.
 *
 * @param events        journal rows after the fill: ordinary and long histories together
 * @param historyLength events of a long history; a multiple of 100, so the real UserActor's next event makes a
 *                      snapshot ({@code RetentionCriteria.snapshotEvery(100, 2)})
 * @param subjects      long histories of each kind (without and with a snapshot)
 * @param inFlight      writes the bulk fill keeps in flight: below the journal's {@code jdbc-journal.bufferSize}
 *                      (1000), beyond which the plugin refuses writes rather than queueing them
 * @param chunk         events per persist for the long histories that are written in parallel
 * @param appended      checkpoints written after a subject's snapshot, so its recovery reads a snapshot and events
 */
record JournalPlan(int events, int users, int historyLength, int subjects, int inFlight, int chunk, int appended) {
  static final int DEFAULT_EVENTS = 1_000_000;
  static final int QUICK_EVENTS = 100_000;
  static final String LONG_PREFIX = "long-";
  private static final Instant START = Instant.parse("2026-01-05T08:00:00Z");
  private static final Duration CHECKPOINT = Duration.ofSeconds(5);
  private static final String MODEL = "mock-llm";

  JournalPlan {
    if (historyLength < 100 || historyLength % 100 != 0) throw new IllegalArgumentException("historyLength: a multiple of 100");
    if (subjects < 1 || users < 1 || inFlight < 1 || chunk < 1 || appended < 0) throw new IllegalArgumentException("bad plan");
    if (bulkEvents(events, users, historyLength, subjects) < 20L * users) {
      throw new IllegalArgumentException("--events " + events + " is too few for " + users + " users and "
          + 2 * subjects + " histories of " + historyLength + " events");
    }
  }

  /** The plan for a journal of {@code events} rows: one user per 100 events (at most 10,000). */
  static JournalPlan of(int events) { return of(events, defaultUsers(events)); }

  static int defaultUsers(int events) { return Math.max(100, Math.min(10_000, events / 100)); }

  /** With {@code users} ordinary users: fewer users, longer histories, fewer key events in the same journal. */
  static JournalPlan of(int events, int users) {
    if (events < 20_000) throw new IllegalArgumentException("--events must be at least 20,000");
    if (users < 1) throw new IllegalArgumentException("--users must be at least 1");
    int history = events >= 500_000 ? 2_000 : 1_000;
    return new JournalPlan(events, users, history, 10, 800, 100, 50);
  }

  private static long bulkEvents(int events, int users, int historyLength, int subjects) {
    return (long) events - (long) subjects * historyLength - (long) subjects * (historyLength - 1);
  }

  /** Events of the ordinary users together. */
  long bulkEvents() { return bulkEvents(events, users, historyLength, subjects); }

  /** Events of the long histories written at the fill (a snapshot subject's last one comes from the real UserActor). */
  long longEvents() { return events - bulkEvents(); }

  String userId(int i) { return String.format("user-%05d", i); }

  /** Long history {@code i}: 0 .. subjects-1 without a snapshot, subjects .. 2·subjects-1 with one. */
  String longId(int i) { return String.format(LONG_PREFIX + "%02d", i); }

  List<String> plainSubjects() { return longIds(0, subjects); }

  List<String> snapshotSubjects() { return longIds(subjects, 2 * subjects); }

  private List<String> longIds(int from, int to) {
    List<String> ids = new ArrayList<>();
    for (int i = from; i < to; i++) ids.add(longId(i));
    return ids;
  }

  /** Events of ordinary user {@code i}: an equal share, the first {@code bulk % users} users one more. */
  int lengthOf(int i) {
    long share = bulkEvents() / users;
    return (int) share + (i < bulkEvents() % users ? 1 : 0);
  }

  /** Events written at the fill for long history {@code i}. */
  int longLengthAtFill(int i) { return i < subjects ? historyLength : historyLength - 1; }

  int keysOf(int i) { return 1 + i % 4; }

  /** Rounds of the fill (event positions) that may hold key events; every user has more events than this. */
  int mixedRounds() { return mixed((int) (bulkEvents() / users)); }

  private static int mixed(int length) { return length - length / 10; }

  /** The event at {@code position} (0-based) of ordinary user {@code i}. */
  UserActor.Event event(int i, int position) { return event(userId(i), i, keysOf(i), i % 10 == 0, mixedRounds(), position); }

  UserActor.Event longEvent(int i, int position) { return event(longId(i), i, 3, false, mixed(historyLength), position); }

  /**
   * A history: UserCreated first; below {@code mixed}, key j at {@code 1 + (j·span/keys + shift) mod span} (span =
   * mixed − 2, so each user's keys sit elsewhere) and the revocation of key 0, if any, at {@code mixed − 1};
   * CountersSaved everywhere else.
   */
  private static UserActor.Event event(String user, int shift, int keys, boolean revokes, int mixed, int position) {
    Instant at = START.plus(CHECKPOINT.multipliedBy(position));
    if (position == 0) return new UserActor.UserCreated(List.of("staff"), "admin", UserLimits.NONE, at);
    int span = mixed - 2;
    for (int j = 0; j < keys; j++) {
      if (position == 1 + ((long) j * span / keys + shift) % span) {
        return new UserActor.KeyCreated(keyId(user, j), digest(user, j), "key " + j, at, null, List.of(), Limits.NONE);
      }
    }
    if (revokes && position == mixed - 1) return new UserActor.KeyRevoked(keyId(user, 0), at);
    return counters(user, position, at);
  }

  /** Every event the fill writes that the key index reads (the long histories' user and three keys included). */
  long taggedEvents() { return ordinaryTaggedEvents() + 2L * subjects * 4; }

  /** The ordinary users' events the key index reads: their UserCreated, KeyCreated and KeyRevoked. */
  long ordinaryTaggedEvents() {
    long tagged = 0;
    for (int i = 0; i < users; i++) tagged += 1 + keysOf(i) + (i % 10 == 0 ? 1 : 0);
    return tagged;
  }

  /** A checkpoint as Quotas writes it: the user, its model and its first key, each in the four windows. */
  private static UserActor.CountersSaved counters(String user, int position, Instant at) {
    long requests = position;
    List<UserActor.ScopeCount> scopes = new ArrayList<>();
    for (String scope : List.of("user", "model:" + MODEL, "key:" + keyId(user, 0))) {
      List<UserActor.WindowCount> windows = new ArrayList<>();
      for (Window w : Window.values()) windows.add(new UserActor.WindowCount(w, w.start(at), requests, requests * 350));
      scopes.add(new UserActor.ScopeCount(scope, windows));
    }
    return new UserActor.CountersSaved(scopes, at);
  }

  static String keyId(String user, int j) { return "key_" + user + "_" + j; }

  /** A key's SHA-256 hex digest, as the edge sends it (of a made-up secret: the index only maps digests). */
  static String digest(String user, int j) {
    try {
      byte[] d = MessageDigest.getInstance("SHA-256").digest(("sk-bench-" + user + "-" + j).getBytes(StandardCharsets.UTF_8));
      return HexFormat.of().formatHex(d);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException(e);
    }
  }

  /** Every key the fill writes, by digest: its user and key id (what the key index must answer). */
  Map<String, String[]> expectedKeys() {
    Map<String, String[]> keys = new TreeMap<>();
    for (int i = 0; i < users; i++) {
      for (int j = 0; j < keysOf(i); j++) keys.put(digest(userId(i), j), new String[] {userId(i), keyId(userId(i), j)});
    }
    for (int i = 0; i < 2 * subjects; i++) {
      for (int j = 0; j < 3; j++) keys.put(digest(longId(i), j), new String[] {longId(i), keyId(longId(i), j)});
    }
    return keys;
  }

  /** Every user the fill creates. */
  int expectedUsers() { return users + 2 * subjects; }
}
