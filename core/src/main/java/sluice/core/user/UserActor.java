package sluice.core.user;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
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
import org.apache.pekko.persistence.typed.javadsl.EventHandler;
import org.apache.pekko.persistence.typed.javadsl.EventSourcedBehaviorWithEnforcedReplies;
import org.apache.pekko.persistence.typed.javadsl.ReplyEffect;
import org.apache.pekko.persistence.typed.javadsl.RetentionCriteria;
import org.apache.pekko.persistence.typed.javadsl.SignalHandler;
import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;
import sluice.core.Departures;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;

/**
 * One user: its groups, limit overrides and API keys (event-sourced), and its usage counters ({@link Quotas}, in
 * memory, saved every checkpoint interval as one durable-state object: {@link CounterCheckpoints}). Sharded by user id;
 * the single writer makes every limit exact however many edge nodes admit requests for the user at once.
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
  static final Pattern DIGEST = Pattern.compile("[0-9a-f]{64}");
  private static final int MAX_REQUEST_ID = 256;

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
      if (requestId == null || requestId.isBlank() || requestId.length() > MAX_REQUEST_ID) {
        throw new IllegalArgumentException("a request id is 1 to " + MAX_REQUEST_ID + " characters");
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

  /** The sharding stop message: saves the counters if they changed, and stops once the write is answered. */
  public enum Stop implements Command { INSTANCE }

  private enum Tick implements Command { INSTANCE }

  /** From {@link CounterCheckpoints}: {@code saved} is null if the store has none (or {@code failure} says why). */
  record CountersLoaded(long incarnation, SavedCounters saved, long revision, String failure) implements Command {}
  record CountersWritten(long incarnation, long revision, String failure) implements Command {}
  /** A gateway node left the cluster: its requests in flight will never be settled. */
  private record NodeLeft(String node) implements Command {}

  public sealed interface Event extends CborSerializable {}

  /** @param source admin, or the source of the trusted credential that created the user (config, oidc) */
  public record UserCreated(List<String> groups, String source, UserLimits limits, Instant at) implements Event {}

  public record GroupsChanged(List<String> groups, Instant at) implements Event {}

  public record LimitsChanged(UserLimits limits, Instant at) implements Event {}

  public record KeyCreated(String keyId, String digest, String name, Instant createdAt, Instant expiresAt, List<String> models,
                           Limits limits) implements Event {}

  public record KeyRevoked(String keyId, Instant at) implements Event {}

  /** The counters as the previous release journaled them; replayed from old journals, no longer written. */
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

  private final ActorContext<Command> ctx;
  private final UserId userId;
  private final UserSettings settings;
  private final KeyIndex index;
  private final Clock clock;
  private final Quotas quotas;
  private final CounterCheckpoints counters;
  private final IdlePassivation idle;

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
    this.quotas = new Quotas(settings.reservationTimeout());
    this.counters = new CounterCheckpoints(ctx, userId, settings.countersStore());
    this.idle = new IdlePassivation(shard, ctx.getSelf(), settings.idleTimeout(), clock.instant());
    timers.startTimerWithFixedDelay(Tick.INSTANCE, Tick.INSTANCE, settings.checkpointInterval());
    Departures.subscribe(ctx, NodeLeft::new);
  }

  @Override public State emptyState() { return new State(null, null, List.of(), UserLimits.NONE, Map.of(), List.of()); }

  @Override public RetentionCriteria retentionCriteria() { return RetentionCriteria.snapshotEvery(100, 2); }

  @Override public Set<String> tagsFor(Event event) {
    return event instanceof UserCreated || event instanceof KeyCreated || event instanceof KeyRevoked ? Set.of(KeyIndex.TAG) : Set.of();
  }

  @Override public CommandHandlerWithReply<Command, Event, State> commandHandler() {
    var handlers = newCommandHandlerWithReplyBuilder();
    // Until the saved counters are loaded every command waits, so none is answered from counters that start at zero.
    handlers.forState(s -> !counters.loaded())
        .onCommand(CountersLoaded.class, this::onCountersLoaded)
        .onCommand(Stop.class, c -> Effect().stop().thenNoReply())     // nothing counted yet, so nothing to save
        .onAnyCommand(c -> c == Tick.INSTANCE ? Effect().noReply() : Effect().stash());
    handlers.forAnyState()
        .onCommand(Admit.class, (s, c) -> onAdmit(s, touch(c)))
        .onCommand(Settle.class, (s, c) -> onSettle(touch(c)))
        .onCommand(CreateUser.class, (s, c) -> onCreateUser(s, touch(c)))
        .onCommand(GetUser.class, (s, c) -> Effect().reply(touch(c).replyTo(), s.created() ? new UserReply.Done(view(s)) : notFound()))
        .onCommand(UpdateUser.class, (s, c) -> onUpdateUser(s, touch(c)))
        .onCommand(CreateKey.class, (s, c) -> onCreateKey(s, touch(c)))
        .onCommand(RevokeKey.class, (s, c) -> onRevokeKey(s, touch(c)))
        .onCommand(Tick.class, (s, c) -> onTick())
        .onCommand(NodeLeft.class, c -> Effect().none().thenRun(st -> quotas.nodeLeft(c.node())).thenNoReply())
        .onCommand(CountersLoaded.class, c -> Effect().noReply())      // an answer to an earlier incarnation
        .onCommand(CountersWritten.class, c -> stopIf(counters.onWritten(c, quotas, clock.instant())))
        .onCommand(Stop.class, c -> stopIf(counters.onStop(quotas, clock.instant())));
    return handlers.build();
  }

  private ReplyEffect<Event, State> stopIf(boolean stop) { return (stop ? Effect().stop() : Effect().none()).thenNoReply(); }

  private ReplyEffect<Event, State> onCountersLoaded(State s, CountersLoaded l) {
    boolean loaded = counters.onLoaded(l, quotas, s.counters(), clock.instant());
    return loaded ? Effect().noReply().thenUnstashAll() : Effect().noReply();
  }

  private <C> C touch(C command) { idle.commandAt(clock.instant()); return command; }

  private ReplyEffect<Event, State> onCreateUser(State s, CreateUser c) {
    if (s.created()) return Effect().reply(c.replyTo(), new UserReply.Refused(AdminRefusal.USER_EXISTS, "user " + userId + " already exists"));
    return Effect().persist(new UserCreated(names(c.groups()), "admin", c.limits(), clock.instant()))
        .thenRun(st -> index.announce(KeyIndex.Update.userCreated(userId)))
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
    Instant now = clock.instant();
    Optional<UserReply.Refused> refused = KeyRules.refusalToCreate(s, c, index.byDigest(c.digest()).isPresent(), now);
    if (refused.isPresent()) return Effect().reply(c.replyTo(), refused.get());
    return Effect().persist(new KeyCreated(c.keyId().value(), c.digest(), c.name().value(), now, c.expiresAt(),
            c.models().stream().map(ServiceId::value).toList(), c.limits()))
        .thenRun(st -> {
          index.announce(KeyIndex.Update.keyCreated(userId, c.keyId(), c.digest()));
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
          index.announce(KeyIndex.Update.keyRevoked(userId, c.keyId()));
          ctx.getLog().info("key {} of user {} revoked", c.keyId(), userId);
        })
        .thenReply(c.replyTo(), st -> new UserReply.Done(view(st)));
  }

  private UserReply.Refused notFound() { return new UserReply.Refused(AdminRefusal.USER_NOT_FOUND, "no user " + userId); }

  private ReplyEffect<Event, State> onAdmit(State s, Admit a) {
    Instant now = clock.instant();
    if (a.credential() instanceof Credential.Trusted t) {
      if (!s.created()) {
        return Effect().persist(new UserCreated(names(t.groups()), t.source(), UserLimits.NONE, now))
            .thenRun(st -> {
              index.announce(KeyIndex.Update.userCreated(userId));
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
    Optional<Admission.Refused> refused = KeyRules.refusalToUse(found, a.model(), now);
    if (refused.isPresent()) return Effect().reply(a.replyTo(), refused.get());
    return Effect().reply(a.replyTo(), admit(s, a, found.get().id(), found.get()));
  }

  /** The limits check and, if every scope has room, the counting: no journal write on this path. */
  private Admission admit(State s, Admit a, String keyId, Key key) {
    var applying = Quotas.Applying.forRequest(userId, effective(s), a.model().value(), key);
    return quotas.admit(a.requestId(), applying, a.reserveTokens(), clock.instant(), Departures.nodeOf(a.replyTo())).toAdmission(userId.value(), keyId);
  }

  private UserLimits effective(State s) { return settings.limitsFor(s.groups()).overriddenBy(s.limits()); }

  private ReplyEffect<Event, State> onSettle(Settle c) {
    if (!quotas.settle(c.requestId(), Quotas.plus(c.promptTokens(), c.completionTokens()), clock.instant())) {
      ctx.getLog().debug("settle of unknown request {} for user {} ignored", c.requestId(), userId);
    }
    return Effect().noReply();
  }

  private ReplyEffect<Event, State> onTick() {
    Instant now = clock.instant();
    int swept = quotas.sweep(now);
    if (swept > 0) {
      ctx.getLog().warn("user {}: {} requests not settled within {} no longer count as in flight", userId, swept,
          settings.reservationTimeout());
    }
    idle.tick(quotas.hasReservations(), now);
    counters.save(quotas, now);
    return Effect().noReply();
  }

  private UserView view(State s) { return UserView.of(userId, s, effective(s), quotas.usage(clock.instant())); }

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
    return newSignalHandlerBuilder().onSignal(RecoveryCompleted.instance(), s -> {
      if (s.created()) index.userRecovered(userId, s.keys().values());
      counters.load(s.created());                     // commands wait (stashed) until the counters are loaded
    }).build();
  }

  private static <T> List<T> distinct(List<T> values) {
    return values == null ? List.of() : List.copyOf(new LinkedHashSet<>(values));
  }

  /** Events keep plain strings: the stored format predates the id types, and replays whatever was written. */
  private static List<String> names(List<GroupName> groups) { return groups.stream().map(GroupName::value).toList(); }
}
