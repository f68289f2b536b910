package sluice.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.Adapter;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import org.apache.pekko.persistence.query.Offset;
import org.apache.pekko.persistence.query.PersistenceQuery;
import org.apache.pekko.persistence.query.javadsl.CurrentEventsByTagQuery;
import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;
import sluice.core.user.KeyIndex;
import sluice.core.user.KeyRef;
import sluice.core.user.UserActor;
import sluice.core.user.UserReply;
import sluice.core.user.UserSettings;

/**
 * The timed reads of {@code bench --journal}, each in a JVM of its own, as a gateway start is (JournalBench starts it
 * with this bench's classpath): {@code keyindex} loads the key index in a fresh actor system twice (the cold JVM, then
 * again in the same JVM), then runs its tag query once more with timestamps; {@code recovery} loads the key index, recovers one ordinary user (the journal plugins are
 * started, as at a gateway's start) and then times the real UserActor of each named user until it answers GetUser.
 * Writes its result as JSON to {@code --out}.
 */
public final class JournalProbe {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration LIMIT = Duration.ofMinutes(10);

  /** One load of the key index: seconds, the users it holds, the expected keys it maps right and wrong. */
  record IndexRun(double seconds, int users, int expectedUsers, int keysRight, int keysWrong, int expectedKeys) {
    boolean correct() { return users == expectedUsers && keysRight == expectedKeys && keysWrong == 0; }
  }

  /**
   * The plain tag query the key index runs, once more after the timed loads: when its first event came and when it
   * ended, which shows how much of a load is waiting rather than reading.
   */
  record TagRead(double firstEventSeconds, double seconds, long events) {}

  record IndexResult(List<IndexRun> runs, TagRead tagRead) {}

  /** One user's recovery: spawn → GetUser answered, and the keys its answer lists. */
  record UserRun(String user, double millis, int keys, int expectedKeys) {}

  /**
   * @param indexSeconds the key index load that came first (not the measured one: see {@code keyindex})
   * @param warmupMillis the one ordinary user recovered before the timed ones
   */
  record RecoveryResult(double indexSeconds, double warmupMillis, List<UserRun> users) {}

  private JournalProbe() {}

  public static void main(String[] args) {
    try {
      Map<String, String> opts = options(Arrays.copyOfRange(args, 1, args.length));
      Config db = ConfigFactory.parseFile(Path.of(opts.get("--db")).toFile());
      JournalPlan plan = JournalPlan.of(Integer.parseInt(opts.get("--events")), Integer.parseInt(opts.get("--plan-users")));
      Object result = switch (args[0]) {
        case "keyindex" -> keyIndex(db, plan, Integer.parseInt(opts.getOrDefault("--runs", "2")));
        case "recovery" -> recovery(db, plan, List.of(opts.get("--users").split(",")), Integer.parseInt(opts.get("--keys")));
        default -> throw new IllegalArgumentException("unknown probe " + args[0]);
      };
      JSON.writeValue(Path.of(opts.get("--out")).toFile(), result);
      System.exit(0);
    } catch (Exception e) {
      e.printStackTrace();
      System.exit(1);                                                     // not waiting for threads a failure left
    }
  }

  static IndexResult keyIndex(Config db, JournalPlan plan, int runs) throws Exception {
    Map<String, String[]> expected = plan.expectedKeys();
    List<IndexRun> out = new ArrayList<>();
    for (int run = 0; run < runs; run++) {
      ActorSystem<Void> system = JournalSystem.start(JournalSystem.config(db), "journal-probe");
      try {
        String readJournal = UserSettings.from(system.settings().config()).readJournal();
        long t0 = System.nanoTime();
        KeyIndex index = KeyIndex.load(system, readJournal).toCompletableFuture().get(LIMIT.toSeconds(), TimeUnit.SECONDS);
        double seconds = (System.nanoTime() - t0) / 1e9;
        index.close();
        int right = 0;
        int wrong = 0;
        for (Map.Entry<String, String[]> e : expected.entrySet()) {
          Optional<KeyRef> ref = index.byDigest(e.getKey());
          if (ref.equals(Optional.of(new KeyRef(UserId.of(e.getValue()[0]), KeyId.of(e.getValue()[1]))))) right++;
          else wrong++;
        }
        out.add(new IndexRun(seconds, index.users().size(), plan.expectedUsers(), right, wrong, expected.size()));
      } finally {
        JournalSystem.stop(system);
      }
    }
    return new IndexResult(out, tagRead(db));
  }

  private static TagRead tagRead(Config db) throws Exception {
    ActorSystem<Void> system = JournalSystem.start(JournalSystem.config(db), "journal-probe");
    try {
      String id = UserSettings.from(system.settings().config()).readJournal();
      long t0 = System.nanoTime();
      CurrentEventsByTagQuery journal = PersistenceQuery.get(Adapter.toClassic(system)).getReadJournalFor(CurrentEventsByTagQuery.class, id);
      AtomicLong first = new AtomicLong();
      AtomicLong events = new AtomicLong();
      journal.currentEventsByTag(KeyIndex.TAG, Offset.noOffset())
          .runForeach(e -> {
            if (events.getAndIncrement() == 0) first.set(System.nanoTime());
          }, system)
          .toCompletableFuture().get(LIMIT.toSeconds(), TimeUnit.SECONDS);
      long t1 = System.nanoTime();
      return new TagRead((first.get() == 0 ? t1 - t0 : first.get() - t0) / 1e9, (t1 - t0) / 1e9, events.get());
    } finally {
      JournalSystem.stop(system);
    }
  }

  static RecoveryResult recovery(Config db, JournalPlan plan, List<String> users, int keys) throws Exception {
    ActorSystem<Void> system = JournalSystem.start(JournalSystem.config(db), "journal-probe");
    try {
      UserSettings settings = UserSettings.from(system.settings().config());
      long t0 = System.nanoTime();
      KeyIndex index = KeyIndex.load(system, settings.readJournal()).toCompletableFuture().get(LIMIT.toSeconds(), TimeUnit.SECONDS);
      double indexSeconds = (System.nanoTime() - t0) / 1e9;
      double warmup = recover(system, settings, index, plan.userId(0), plan.keysOf(0)).millis();
      List<UserRun> runs = new ArrayList<>();
      for (String user : users) runs.add(recover(system, settings, index, user, keys));
      index.close();
      return new RecoveryResult(indexSeconds, warmup, runs);
    } finally {
      JournalSystem.stop(system);
    }
  }

  private static UserRun recover(ActorSystem<?> system, UserSettings settings, KeyIndex index, String user, int keys)
      throws Exception {
    long t0 = System.nanoTime();
    ActorRef<UserActor.Command> ref = system.systemActorOf(
        UserActor.create(UserId.of(user), settings, index, Clock.systemUTC()), "user-" + user, Props.empty());
    UserReply reply = AskPattern.<UserActor.Command, UserReply>ask(ref, UserActor.GetUser::new, LIMIT, system.scheduler())
        .toCompletableFuture().get(LIMIT.toSeconds(), TimeUnit.SECONDS);
    double millis = (System.nanoTime() - t0) / 1e6;
    if (!(reply instanceof UserReply.Done done)) throw new IllegalStateException("GetUser for " + user + " answered " + reply);
    return new UserRun(user, millis, done.user().keys().size(), keys);
  }

  private static Map<String, String> options(String[] args) {
    Map<String, String> m = new HashMap<>();
    for (int i = 0; i + 1 < args.length; i += 2) m.put(args[i], args[i + 1]);
    return m;
  }

  static <T> T read(Path file, Class<T> type) throws IOException { return JSON.readValue(file.toFile(), type); }
}
