package sluice.core.user;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.Behavior;
import org.apache.pekko.actor.typed.SupervisorStrategy;
import org.apache.pekko.actor.typed.javadsl.ActorContext;
import org.apache.pekko.actor.typed.javadsl.Behaviors;
import org.apache.pekko.actor.typed.javadsl.TimerScheduler;
import org.apache.pekko.cluster.sharding.typed.javadsl.ClusterSharding;
import org.apache.pekko.cluster.sharding.typed.javadsl.EntityTypeKey;
import org.apache.pekko.persistence.typed.PersistenceId;
import org.apache.pekko.persistence.typed.RecoveryCompleted;
import org.apache.pekko.persistence.typed.javadsl.CommandHandlerWithReply;
import org.apache.pekko.persistence.typed.javadsl.EffectBuilder;
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.user.Admission.Admitted;
import sluice.core.user.Admission.Refused;
import sluice.core.user.RateInfo.WindowState;

/**
 * One user: its groups, limit overrides and API keys (event-sourced), and its usage counters (in memory, saved every
 * checkpoint interval). Sharded by user id; the single writer makes every limit exact however many edge nodes admit
 * requests for the user at once.
 *
 * <p>A request must fit three scopes, each with its own counters: the user, the user on the requested model, and the
 * key. Admission counts the request and reserves its tokens (prompt estimate plus max_tokens) without a write to the
 * journal; {@code Settle} replaces the reservation with the real usage. Counters live in fixed UTC calendar windows
 * ({@link Window}), so every node tells clients the same reset time.
 */
public final class UserActor
    extends EventSourcedBehaviorWithEnforcedReplies<UserActor.Command, UserActor.Event, UserActor.State> {

  public static final EntityTypeKey<Command> TYPE_KEY = EntityTypeKey.create(Command.class, "sluice-user");
  /** Persistence ids are {@code user|<id>}. */
  public static final String PERSISTENCE_PREFIX = "user|";
  static final java.util.regex.Pattern DIGEST = java.util.regex.Pattern.compile("[0-9a-f]{64}");
  private static final int MAX_TEXT = 256;
  private static final String USER_SCOPE = "user";

  // ---------------------------------------------------------------- protocol

  public sealed interface Command extends CborSerializable {}

  /** An administrator creates the user (source "admin"); Refused user_exists if it exists. */
  public record CreateUser(List<GroupName> groups, UserLimits limits, ActorRef<UserReply> replyTo) implements Command {
    public CreateUser {
      groups = distinct(groups);
      limits = limits == null ? UserLimits.NONE : limits;
    }
  }

  public record GetUser(ActorRef<UserReply> replyTo) implements Command {}

  /** The fields present replace the user's. */
  public record UpdateUser(Optional<List<GroupName>> groups, Optional<UserLimits> limits, ActorRef<UserReply> replyTo)
      implements Command {
    public UpdateUser {
      groups = groups == null ? Optional.empty() : groups.map(UserActor::distinct);
      limits = limits == null ? Optional.empty() : limits;
    }
  }

  /**
   * A new key; the edge made its id and secret and sends only the secret's SHA-256 hex digest.
   *
   * @param expiresAt null for a key that never expires
   * @param models    the models the key may use; empty means all
   */
  public record CreateKey(KeyId keyId, String digest, KeyName name, Instant expiresAt, List<ServiceId> models, Limits limits,
                          ActorRef<UserReply> replyTo) implements Command {
    public CreateKey {
      if (keyId == null) throw new IllegalArgumentException("a key needs an id");
      if (digest == null || !DIGEST.matcher(digest).matches()) {
        throw new IllegalArgumentException("the key digest must be 64 lower-case hex digits (SHA-256)");
      }
      name = name == null ? KeyName.NONE : name;
      models = distinct(models);
      limits = limits == null ? Limits.NONE : limits;
    }
  }

  /** Revokes a key; revoking it again is answered with Done and keeps the first revocation time. */
  public record RevokeKey(KeyId keyId, ActorRef<UserReply> replyTo) implements Command {
    public RevokeKey {
      if (keyId == null) throw new IllegalArgumentException("a revocation names a key");
    }
  }

  /**
   * May this request run? Counts and reserves it if so. {@code reserveTokens}: the prompt estimate plus max_tokens
   * (or the configured default). Repeating an Admit with the same {@code requestId} does not count it twice.
   */
  public record Admit(String requestId, Credential credential, ServiceId model, long reserveTokens, ActorRef<Admission> replyTo)
      implements Command {
    public Admit {
      if (requestId == null || requestId.isBlank() || requestId.length() > MAX_TEXT) {
        throw new IllegalArgumentException("a request id is 1 to " + MAX_TEXT + " characters");
      }
      if (credential == null) throw new IllegalArgumentException("a request needs a credential");
      if (model == null) throw new IllegalArgumentException("a request names its model");
      if (reserveTokens < 0) throw new IllegalArgumentException("reserved tokens must be >= 0");
    }
  }

  /** The admitted request {@code requestId} has ended with this usage; no reply. */
  public record Settle(String requestId, long promptTokens, long completionTokens) implements Command {
    public Settle {
      if (requestId == null) throw new IllegalArgumentException("a settle needs the request id");
      if (promptTokens < 0 || completionTokens < 0) throw new IllegalArgumentException("token counts must be >= 0");
    }
  }

  /** The sharding stop message: saves the counters if they changed, then stops. */
  public enum Stop implements Command { INSTANCE }

  private enum Tick implements Command { INSTANCE }

  public sealed interface Event extends CborSerializable {}

  /** @param source admin, or the source of the trusted credential that created the user (config, oidc) */
  public record UserCreated(List<String> groups, String source, UserLimits limits, Instant at) implements Event {}

  public record GroupsChanged(List<String> groups, Instant at) implements Event {}

  public record LimitsChanged(UserLimits limits, Instant at) implements Event {}

  public record KeyCreated(String keyId, String digest, String name, Instant createdAt, Instant expiresAt, List<String> models,
                           Limits limits) implements Event {}

  public record KeyRevoked(String keyId, Instant at) implements Event {}

  /** The counters of the current windows, so a restart does not reset them. */
  public record CountersSaved(List<ScopeCount> scopes, Instant at) implements Event {}

  /** @param scope "user", "model:&lt;id&gt;" or "key:&lt;id&gt;" */
  public record ScopeCount(String scope, List<WindowCount> windows) implements CborSerializable {}

  public record WindowCount(Window window, Instant start, long requests, long tokens) implements CborSerializable {}

  public record Key(String id, String digest, String name, Instant createdAt, Instant expiresAt, List<String> models,
                    Limits limits, Instant revokedAt) implements CborSerializable {
    KeyView view() { return new KeyView(id, name, createdAt, expiresAt, models, limits, revokedAt); }
  }

  /** {@code createdAt} is null until the user exists; {@code counters} are the last saved ones. */
  public record State(Instant createdAt, String source, List<String> groups, UserLimits limits, Map<String, Key> keys,
                      List<ScopeCount> counters) implements CborSerializable {
    public State {
      groups = List.copyOf(groups);
      keys = Map.copyOf(keys);
      counters = List.copyOf(counters);
    }

    boolean created() { return createdAt != null; }

    State with(List<String> g, UserLimits l) { return new State(createdAt, source, g, l, keys, counters); }

    State withKey(Key k) {
      Map<String, Key> m = new HashMap<>(keys);
      m.put(k.id(), k);
      return new State(createdAt, source, groups, limits, m, counters);
    }

    State withCounters(List<ScopeCount> c) { return new State(createdAt, source, groups, limits, keys, c); }

    Optional<Key> keyByDigest(String digest) {
      return keys.values().stream().filter(k -> k.digest().equals(digest)).findFirst();
    }
  }

  // ---------------------------------------------------------------- runtime counters (not persisted per request)

  private static final class Counter {
    final Instant start;
    long requests;
    long tokens;

    Counter(Instant start) { this.start = start; }
  }

  private static final class Scope {
    final Map<Window, Counter> windows = new EnumMap<>(Window.class);
    int inFlight;

    /** The counter of the window containing {@code now}, a fresh one once the window has rolled over. */
    Counter at(Window w, Instant now) {
      Instant start = w.start(now);
      Counter c = windows.get(w);
      if (c == null || !c.start.equals(start)) {
        c = new Counter(start);
        windows.put(w, c);
      }
      return c;
    }

    long requests(Window w, Instant now) {
      Counter c = windows.get(w);
      return c != null && c.start.equals(w.start(now)) ? c.requests : 0;
    }

    long tokens(Window w, Instant now) {
      Counter c = windows.get(w);
      return c != null && c.start.equals(w.start(now)) ? c.tokens : 0;
    }
  }

  private static final Scope NO_SCOPE = new Scope();

  /** A scope that applies to one request: its counters' id, how messages name it, its limits. */
  private record Applying(String id, String label, Limits limits) {}

  private record Reservation(List<String> scopes, long reserved, Instant admittedAt) {}

  private record Failure(AdmissionRefusal reason, String message, long retryAfter) {}

  private final ActorContext<Command> ctx;
  private final UserId userId;
  private final UserSettings settings;
  private final KeyIndex index;
  private final Clock clock;
  private final ActorRef<ClusterSharding.ShardCommand> shard;
  private final Map<String, Scope> scopes = new HashMap<>();
  private final Map<String, Reservation> reservations = new HashMap<>();
  private boolean dirty;
  private boolean passivating;
  private Instant lastCommand;

  /** An unsharded user actor (tests, tools): it never passivates itself. */
  public static Behavior<Command> create(UserId userId, UserSettings settings, KeyIndex index, Clock clock) {
    return create(userId, settings, index, clock, null);
  }

  /** A sharded user actor: after the idle timeout with nothing in flight it asks {@code shard} to passivate it. */
  public static Behavior<Command> create(UserId userId, UserSettings settings, KeyIndex index, Clock clock,
                                         ActorRef<ClusterSharding.ShardCommand> shard) {
    return Behaviors.setup(ctx -> Behaviors.withTimers(timers -> new UserActor(ctx, timers, userId, settings, index, clock, shard)));
  }

  public static PersistenceId persistenceId(UserId userId) { return PersistenceId.of("user", userId.value()); }

  private UserActor(ActorContext<Command> ctx, TimerScheduler<Command> timers, UserId userId, UserSettings settings,
                    KeyIndex index, Clock clock, ActorRef<ClusterSharding.ShardCommand> shard) {
    super(persistenceId(userId), SupervisorStrategy.restartWithBackoff(Duration.ofMillis(200), Duration.ofSeconds(10), 0.2));
    this.ctx = ctx;
    this.userId = userId;
    this.settings = settings;
    this.index = index;
    this.clock = clock;
    this.shard = shard;
    this.lastCommand = clock.instant();
    timers.startTimerWithFixedDelay(Tick.INSTANCE, Tick.INSTANCE, settings.checkpointInterval());
  }

  @Override public State emptyState() { return new State(null, null, List.of(), UserLimits.NONE, Map.of(), List.of()); }

  @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(100, 2); }

  @Override public Set<String> tagsFor(Event event) {
    return event instanceof UserCreated || event instanceof KeyCreated || event instanceof KeyRevoked ? Set.of(KeyIndex.TAG) : Set.of();
  }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    return newCommandHandlerWithReplyBuilder().forAnyState()
        .onCommand(Admit.class, (s, c) -> onAdmit(s, touch(c)))
        .onCommand(Settle.class, (s, c) -> onSettle(touch(c)))
        .onCommand(CreateUser.class, (s, c) -> onCreateUser(s, touch(c)))
        .onCommand(GetUser.class, (s, c) -> Effect().reply(touch(c).replyTo(), s.created() ? new UserReply.Done(view(s)) : notFound()))
        .onCommand(UpdateUser.class, (s, c) -> onUpdateUser(s, touch(c)))
        .onCommand(CreateKey.class, (s, c) -> onCreateKey(s, touch(c)))
        .onCommand(RevokeKey.class, (s, c) -> onRevokeKey(s, touch(c)))
        .onCommand(Tick.class, (s, c) -> onTick(s))
        .onCommand(Stop.class, (s, c) -> checkpoint(s, clock.instant()).thenStop().thenNoReply())
        .build();
  }

  private <C> C touch(C command) {
    lastCommand = clock.instant();
    return command;
  }

  // ---------------------------------------------------------------- admin

  private ReplyEffect<Event, State> onCreateUser(State s, CreateUser c) {
    if (s.created()) return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.USER_EXISTS, "user " + userId + " already exists"));
    return Effect().persist(new UserCreated(names(c.groups()), "admin", c.limits(), clock.instant()))
        .thenRun(st -> index.userCreated(userId))
        .thenReply(c.replyTo(), st -> new UserReply.Done(view(st)));
  }

  private ReplyEffect<Event, State> onUpdateUser(State s, UpdateUser c) {
    if (!s.created()) return Effect().reply(c.replyTo(), notFound());
    Instant now = clock.instant();
    List<Event> events = new ArrayList<>();
    c.groups().map(UserActor::names).filter(g -> !g.equals(s.groups())).ifPresent(g -> events.add(new GroupsChanged(g, now)));
    c.limits().filter(l -> !l.equals(s.limits())).ifPresent(l -> events.add(new LimitsChanged(l, now)));
    if (events.isEmpty()) return Effect().reply(c.replyTo(), new UserReply.Done(view(s)));
    return Effect().persist(events).thenReply(c.replyTo(), st -> new UserReply.Done(view(st)));
  }

  private ReplyEffect<Event, State> onCreateKey(State s, CreateKey c) {
    if (!s.created()) return Effect().reply(c.replyTo(), notFound());
    if (s.keys().containsKey(c.keyId().value())) {
      return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.KEY_EXISTS, "key " + c.keyId() + " already exists"));
    }
    if (s.keyByDigest(c.digest()).isPresent() || index.byDigest(c.digest()).isPresent()) {
      return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.KEY_EXISTS, "a key with this secret already exists"));
    }
    Instant now = clock.instant();
    if (c.expiresAt() != null && !c.expiresAt().isAfter(now)) {
      return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.INVALID_REQUEST, "expires_at " + c.expiresAt() + " is not in the future"));
    }
    return Effect().persist(new KeyCreated(c.keyId().value(), c.digest(), c.name().value(), now, c.expiresAt(),
            c.models().stream().map(ServiceId::value).toList(), c.limits()))
        .thenRun(st -> {
          index.keyCreated(userId, c.keyId(), c.digest());
          ctx.getLog().info("key {} created for user {}", c.keyId(), userId);
        })
        .thenReply(c.replyTo(), st -> new UserReply.Done(view(st)));
  }

  private ReplyEffect<Event, State> onRevokeKey(State s, RevokeKey c) {
    Key key = s.keys().get(c.keyId().value());
    if (key == null) {
      return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.KEY_NOT_FOUND, "user " + userId + " has no key " + c.keyId()));
    }
    if (key.revokedAt() != null) return Effect().reply(c.replyTo(), new UserReply.Done(view(s)));
    return Effect().persist(new KeyRevoked(c.keyId().value(), clock.instant()))
        .thenRun(st -> {
          index.keyRevoked(userId, c.keyId());
          ctx.getLog().info("key {} of user {} revoked", c.keyId(), userId);
        })
        .thenReply(c.replyTo(), st -> new UserReply.Done(view(st)));
  }

  private UserReply.Refused notFound() { return new UserReply.Refused(AdminRefusal.USER_NOT_FOUND, "no user " + userId); }

  // ---------------------------------------------------------------- admission

  private ReplyEffect<Event, State> onAdmit(State s, Admit a) {
    Instant now = clock.instant();
    if (a.credential() instanceof Credential.Trusted t) {
      if (!s.created()) {
        return Effect().persist(new UserCreated(names(t.groups()), t.source(), UserLimits.NONE, now))
            .thenRun(st -> {
              index.userCreated(userId);
              ctx.getLog().info("user {} created on first sight ({}, groups {})", userId, t.source(), t.groups());
            })
            .thenReply(a.replyTo(), st -> admit(st, a, t.label(), null));
      }
      if (!new HashSet<>(names(t.groups())).equals(new HashSet<>(s.groups()))) {
        return Effect().persist(new GroupsChanged(names(t.groups()), now)).thenReply(a.replyTo(), st -> admit(st, a, t.label(), null));
      }
      return Effect().reply(a.replyTo(), admit(s, a, t.label(), null));
    }
    String digest = ((Credential.ApiKey) a.credential()).digest();
    Optional<Key> found = s.created() && digest != null ? s.keyByDigest(digest) : Optional.empty();
    if (found.isEmpty()) return Effect().reply(a.replyTo(), refused(AdmissionRefusal.UNKNOWN_KEY, "Incorrect API key provided", null));
    Key key = found.get();
    if (key.revokedAt() != null) return Effect().reply(a.replyTo(), refused(AdmissionRefusal.KEY_REVOKED, "This API key has been revoked", key.id()));
    if (key.expiresAt() != null && !key.expiresAt().isAfter(now)) {
      return Effect().reply(a.replyTo(), refused(AdmissionRefusal.KEY_EXPIRED, "This API key expired at " + key.expiresAt(), key.id()));
    }
    if (!key.models().isEmpty() && !key.models().contains(a.model().value())) {
      return Effect().reply(a.replyTo(), refused(AdmissionRefusal.MODEL_NOT_ALLOWED, "This API key may not use model " + a.model()
          + " (allowed: " + String.join(", ", key.models()) + ")", key.id()));
    }
    return Effect().reply(a.replyTo(), admit(s, a, key.id(), key));
  }

  private static Refused refused(AdmissionRefusal reason, String message, String keyId) {
    return new Refused(reason, message, -1, keyId, RateInfo.NONE);
  }

  /** The limits check and, if every scope has room, the counting: no journal write on this path. */
  private Admission admit(State s, Admit a, String keyId, Key key) {
    Instant now = clock.instant();
    List<Applying> applying = applying(s, a.model().value(), key);
    Reservation existing = reservations.get(a.requestId());
    if (existing != null) return new Admitted(userId.value(), keyId, rate(applying, now));   // a retried ask: counted already

    Failure worst = null;
    for (Applying ap : applying) {
      Scope sc = scopes.getOrDefault(ap.id(), NO_SCOPE);
      Limits l = ap.limits();
      if (l.concurrent() != null && sc.inFlight >= l.concurrent()) {
        worst = worse(worst, new Failure(AdmissionRefusal.CONCURRENCY_LIMIT, "Concurrency limit reached: "
            + l.concurrent() + " requests in flight for " + ap.label() + "; retry in 1 s", 1));
      }
      for (Map.Entry<Window, Long> e : l.requests().entrySet()) {
        Window w = e.getKey();
        if (sc.requests(w, now) + 1 > e.getValue()) {
          long retry = secondsUntil(now, w.end(now));
          worst = worse(worst, new Failure(AdmissionRefusal.REQUEST_RATE_LIMIT, "Rate limit reached: " + e.getValue()
              + " requests per " + w.label() + " for " + ap.label() + "; retry in " + retry + " s", retry));
        }
      }
      for (Map.Entry<Window, Long> e : l.tokens().entrySet()) {
        Window w = e.getKey();
        long used = sc.tokens(w, now);
        long limit = e.getValue();
        // An empty window admits one request whatever its reservation: a max_tokens above the limit is not refused forever.
        if (used >= limit || (used > 0 && used + a.reserveTokens() > limit)) {
          long retry = secondsUntil(now, w.end(now));
          String amounts = " (" + used + " used, " + a.reserveTokens() + " requested)";
          worst = worse(worst, w == Window.DAY || w == Window.MONTH
              ? new Failure(AdmissionRefusal.TOKEN_BUDGET, "Token budget exhausted: " + limit + " tokens per "
                  + w.label() + " for " + ap.label() + amounts + "; it resets in " + retry + " s", retry)
              : new Failure(AdmissionRefusal.TOKEN_RATE_LIMIT, "Rate limit reached: " + limit + " tokens per " + w.label()
                  + " for " + ap.label() + amounts + "; retry in " + retry + " s", retry));
        }
      }
    }
    if (worst != null) return new Refused(worst.reason(), worst.message(), worst.retryAfter(), keyId, rate(applying, now));

    List<String> ids = new ArrayList<>(applying.size());
    for (Applying ap : applying) {
      Scope sc = scopes.computeIfAbsent(ap.id(), id -> new Scope());
      for (Window w : Window.values()) {
        Counter c = sc.at(w, now);
        c.requests++;
        c.tokens += a.reserveTokens();
      }
      sc.inFlight++;
      ids.add(ap.id());
    }
    reservations.put(a.requestId(), new Reservation(List.copyOf(ids), a.reserveTokens(), now));
    dirty = true;
    return new Admitted(userId.value(), keyId, rate(applying, now));
  }

  /** The failure the client is told about: the one it must wait longest for (then the more specific kind). */
  private static Failure worse(Failure a, Failure b) {
    if (a == null) return b;
    if (b.retryAfter() != a.retryAfter()) return b.retryAfter() > a.retryAfter() ? b : a;
    return b.reason().compareTo(a.reason()) > 0 ? b : a;
  }

  private static long secondsUntil(Instant now, Instant end) {
    long millis = Duration.between(now, end).toMillis();
    return Math.max(1, (millis + 999) / 1000);
  }

  private List<Applying> applying(State s, String model, Key key) {
    UserLimits effective = effective(s);
    List<Applying> out = new ArrayList<>(3);
    out.add(new Applying(USER_SCOPE, "user " + userId, effective.user()));
    out.add(new Applying("model:" + model, "user " + userId + " on model " + model, effective.forModel(model)));
    if (key != null) out.add(new Applying("key:" + key.id(), "key " + key.id(), key.limits()));
    return out;
  }

  private UserLimits effective(State s) { return settings.limitsFor(s.groups()).overriddenBy(s.limits()); }

  /** Per window with a limit in any scope, the scope with the fewest remaining; the tightest concurrency limit. */
  private RateInfo rate(List<Applying> applying, Instant now) {
    List<WindowState> requests = new ArrayList<>();
    List<WindowState> tokens = new ArrayList<>();
    for (Window w : Window.values()) {
      WindowState r = null;
      WindowState t = null;
      for (Applying ap : applying) {
        Scope sc = scopes.getOrDefault(ap.id(), NO_SCOPE);
        Long rl = ap.limits().requests().get(w);
        if (rl != null) r = fewer(r, new WindowState(w, rl, Math.max(0, rl - sc.requests(w, now)), w.end(now)));
        Long tl = ap.limits().tokens().get(w);
        if (tl != null) t = fewer(t, new WindowState(w, tl, Math.max(0, tl - sc.tokens(w, now)), w.end(now)));
      }
      if (r != null) requests.add(r);
      if (t != null) tokens.add(t);
    }
    Integer concurrent = null;
    int inFlight = scopes.getOrDefault(USER_SCOPE, NO_SCOPE).inFlight;
    for (Applying ap : applying) {
      Integer c = ap.limits().concurrent();
      if (c != null && (concurrent == null || c < concurrent)) {
        concurrent = c;
        inFlight = scopes.getOrDefault(ap.id(), NO_SCOPE).inFlight;
      }
    }
    return new RateInfo(requests, tokens, concurrent, inFlight);
  }

  private static WindowState fewer(WindowState a, WindowState b) { return a == null || b.remaining() < a.remaining() ? b : a; }

  private ReplyEffect<Event, State> onSettle(Settle c) {
    Reservation r = reservations.remove(c.requestId());
    if (r == null) {
      ctx.getLog().debug("settle of unknown request {} for user {} ignored", c.requestId(), userId);
      return Effect().noReply();
    }
    Instant now = clock.instant();
    long actual = c.promptTokens() + c.completionTokens();
    for (String id : r.scopes()) {
      Scope sc = scopes.computeIfAbsent(id, k -> new Scope());
      sc.inFlight = Math.max(0, sc.inFlight - 1);
      for (Window w : Window.values()) {
        Counter counter = sc.at(w, now);
        // The reservation sits in the window it was made in; once that has rolled over only the real usage counts.
        if (counter.start.equals(w.start(r.admittedAt()))) counter.tokens = Math.max(0, counter.tokens - r.reserved() + actual);
        else counter.tokens += actual;
      }
    }
    dirty = true;
    return Effect().noReply();
  }

  // ---------------------------------------------------------------- housekeeping

  private ReplyEffect<Event, State> onTick(State s) {
    Instant now = clock.instant();
    sweep(now);
    if (shard != null && !passivating && reservations.isEmpty()
        && !lastCommand.plus(settings.idleTimeout()).isAfter(now)) {
      passivating = true;
      shard.tell(new ClusterSharding.Passivate<>(ctx.getSelf()));
    }
    return checkpoint(s, now).thenNoReply();
  }

  /** Drops reservations nobody settled (their edge node died): frees their concurrency; their tokens stay counted. */
  private void sweep(Instant now) {
    Instant oldest = now.minus(settings.reservationTimeout());
    int dropped = 0;
    for (Iterator<Reservation> it = reservations.values().iterator(); it.hasNext(); ) {
      Reservation r = it.next();
      if (r.admittedAt().isAfter(oldest)) continue;
      it.remove();
      dropped++;
      for (String id : r.scopes()) {
        Scope sc = scopes.get(id);
        if (sc != null) sc.inFlight = Math.max(0, sc.inFlight - 1);
      }
    }
    if (dropped > 0) {
      dirty = true;
      ctx.getLog().warn("user {}: {} requests not settled within {} no longer count as in flight", userId, dropped,
          settings.reservationTimeout());
    }
    scopes.values().removeIf(sc -> sc.inFlight == 0 && sc.windows.values().stream().noneMatch(c -> current(c, now)));
  }

  private static boolean current(Counter c, Instant now) {
    for (Window w : Window.values()) if (c.start.equals(w.start(now))) return true;
    return false;
  }

  private EffectBuilder<Event, State> checkpoint(State s, Instant now) {
    if (!dirty || !s.created()) return Effect().none();
    dirty = false;
    return Effect().persist(new CountersSaved(counters(now), now));
  }

  private List<ScopeCount> counters(Instant now) {
    List<ScopeCount> out = new ArrayList<>();
    scopes.entrySet().stream().sorted(Map.Entry.comparingByKey()).forEach(e -> {
      List<WindowCount> windows = new ArrayList<>();
      for (Window w : Window.values()) {
        Counter c = e.getValue().windows.get(w);
        if (c != null && c.start.equals(w.start(now)) && (c.requests > 0 || c.tokens > 0)) {
          windows.add(new WindowCount(w, c.start, c.requests, c.tokens));
        }
      }
      if (!windows.isEmpty()) out.add(new ScopeCount(e.getKey(), windows));
    });
    return out;
  }

  private void restore(State s) {
    Instant now = clock.instant();
    scopes.clear();
    reservations.clear();
    dirty = false;
    passivating = false;
    lastCommand = now;
    for (ScopeCount sc : s.counters()) {
      for (WindowCount wc : sc.windows()) {
        if (!wc.start().equals(wc.window().start(now))) continue;      // that window is over
        Counter c = new Counter(wc.start());
        c.requests = wc.requests();
        c.tokens = wc.tokens();
        scopes.computeIfAbsent(sc.scope(), k -> new Scope()).windows.put(wc.window(), c);
      }
    }
    if (s.created()) {
      index.userCreated(userId);
      for (Key k : s.keys().values()) {
        if (k.revokedAt() == null) index.keyCreated(userId, KeyId.of(k.id()), k.digest());
        else index.keyRevoked(userId, KeyId.of(k.id()));
      }
    }
  }

  private UserView view(State s) {
    Instant now = clock.instant();
    Scope u = scopes.getOrDefault(USER_SCOPE, NO_SCOPE);
    Map<String, Long> requests = new HashMap<>();
    Map<String, Long> tokens = new HashMap<>();
    for (Window w : Window.values()) {
      requests.put(w.label(), u.requests(w, now));
      tokens.put(w.label(), u.tokens(w, now));
    }
    List<KeyView> keys = s.keys().values().stream()
        .sorted(Comparator.comparing(Key::createdAt).thenComparing(Key::id))
        .map(Key::view).toList();
    return new UserView(userId.value(), s.groups(), s.createdAt(), s.source(), s.limits(), effective(s), keys, requests, tokens, u.inFlight);
  }

  // ---------------------------------------------------------------- events and recovery

  @Override public EventHandler<State, Event> eventHandler() {
    return newEventHandlerBuilder().forAnyState()
        .onEvent(UserCreated.class, (s, e) -> new State(e.at(), e.source(), e.groups(), e.limits(), Map.of(), List.of()))
        .onEvent(GroupsChanged.class, (s, e) -> s.with(e.groups(), s.limits()))
        .onEvent(LimitsChanged.class, (s, e) -> s.with(s.groups(), e.limits()))
        .onEvent(KeyCreated.class, (s, e) ->
            s.withKey(new Key(e.keyId(), e.digest(), e.name(), e.createdAt(), e.expiresAt(), e.models(), e.limits(), null)))
        .onEvent(KeyRevoked.class, (s, e) -> {
          Key k = s.keys().get(e.keyId());
          if (k == null || k.revokedAt() != null) return s;
          return s.withKey(new Key(k.id(), k.digest(), k.name(), k.createdAt(), k.expiresAt(), k.models(), k.limits(), e.at()));
        })
        .onEvent(CountersSaved.class, (s, e) -> s.withCounters(e.scopes()))
        .build();
  }

  @Override public SignalHandler<State> signalHandler() {
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), this::restore).build();
  }

  // ---------------------------------------------------------------- helpers

  private static <T> List<T> distinct(List<T> values) {
    return values == null ? List.of() : List.copyOf(new LinkedHashSet<>(values));
  }

  /** Events keep plain strings: the stored format predates the id types, and replays whatever was written. */
  private static List<String> names(List<GroupName> groups) { return groups.stream().map(GroupName::value).toList(); }
}
