package sluice.bench;

import java.io.PrintStream;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import org.apache.pekko.Done;
import org.apache.pekko.actor.typed.ActorRef;
import org.apache.pekko.actor.typed.ActorSystem;
import org.apache.pekko.actor.typed.Props;
import org.apache.pekko.actor.typed.javadsl.AskPattern;
import sluice.core.ids.KeyId;
import sluice.core.ids.KeyName;
import sluice.core.ids.UserId;
import sluice.core.user.KeyIndex;
import sluice.core.user.Limits;
import sluice.core.user.UserActor;
import sluice.core.user.UserReply;
import sluice.core.user.UserSettings;

/** Fills the journal through {@link HistoryWriter}s, and gives half the long histories a snapshot made by UserActor. */
final class JournalFill {
  private static final Duration ASK = Duration.ofMinutes(2);

  private JournalFill() {}

  /**
   * One phase of the fill.
   *
   * @param writers       users writing in this phase
   * @param perWrite      events per persist (one journal write, one transaction of the plugin's batch)
   * @param inFlight      writes the bench kept in flight at once
   * @param firstTenth    time until the first tenth of the events was written (the JIT still compiling)
   */
  record Phase(String name, int writers, int perWrite, int inFlight, long events, Duration took, Duration firstTenth) {
    double perSecond() { return events / seconds(took); }

    /** Events/s over the last nine tenths. */
    double steadyPerSecond() { return (events - events / 10) / seconds(took.minus(firstTenth)); }

    private static double seconds(Duration d) { return Math.max(1, d.toNanos()) / 1e9; }
  }

  private record Task(ActorRef<HistoryWriter.Command> writer, List<UserActor.Event> events) {}

  /**
   * The four phases: the ordinary users' histories up to {@link JournalPlan#mixedRounds} (their key events among
   * checkpoints), then the rest (checkpoints only), one long history alone, the other long histories together.
   */
  static List<Phase> fill(ActorSystem<?> system, JournalPlan plan, PrintStream err) throws InterruptedException {
    long t0 = System.nanoTime();
    List<ActorRef<HistoryWriter.Command>> users = new ArrayList<>();
    for (int i = 0; i < plan.users(); i++) users.add(writer(system, plan.userId(i)));
    List<ActorRef<HistoryWriter.Command>> longs = new ArrayList<>();
    for (int i = 0; i < 2 * plan.subjects(); i++) longs.add(writer(system, plan.longId(i)));
    List<ActorRef<HistoryWriter.Command>> all = new ArrayList<>(users);
    all.addAll(longs);
    drive(system, iterator(all.size(), i -> new Task(all.get(i), null)), all.size(), 200, "");
    err.printf("bench: %d writers recovered (empty) in %.1f s%n", all.size(), (System.nanoTime() - t0) / 1e9);

    List<Phase> phases = new ArrayList<>();
    int mixed = plan.mixedRounds();
    long mixedEvents = (long) mixed * plan.users();
    phases.add(drive(system, rounds(plan, users, 0, mixed), mixedEvents, plan.inFlight(), "the ordinary users' key events")
        .named("ordinary users: key events among checkpoints", plan.users(), 1, plan.inFlight()));
    err.println("bench: " + phases.get(0));
    phases.add(drive(system, rounds(plan, users, mixed, plan.lengthOf(0)), plan.bulkEvents() - mixedEvents, plan.inFlight(),
        "the ordinary users' checkpoints").named("ordinary users: checkpoints only", plan.users(), 1, plan.inFlight()));
    err.println("bench: " + phases.get(1));

    phases.add(drive(system, iterator(plan.longLengthAtFill(0), p -> new Task(longs.get(0), List.of(plan.longEvent(0, p)))),
        plan.longLengthAtFill(0), 1, "one long history alone").named("one writer alone", 1, 1, 1));
    err.println("bench: " + phases.get(2));

    List<Task> chunks = new ArrayList<>();
    for (int start = 0; start < plan.historyLength(); start += plan.chunk()) {
      for (int i = 1; i < longs.size(); i++) {
        List<UserActor.Event> events = new ArrayList<>();
        for (int p = start; p < Math.min(start + plan.chunk(), plan.longLengthAtFill(i)); p++) events.add(plan.longEvent(i, p));
        chunks.add(new Task(longs.get(i), List.copyOf(events)));
      }
    }
    long longEvents = chunks.stream().mapToLong(t -> t.events().size()).sum();
    phases.add(drive(system, chunks.iterator(), longEvents, longs.size() - 1, "the other long histories")
        .named("long histories together", longs.size() - 1, plan.chunk(), longs.size() - 1));
    err.println("bench: " + phases.get(3));
    return phases;
  }

  /**
   * Gives each snapshot subject a snapshot as the previous release would have: the real UserActor persists its 4th key
   * as event {@code historyLength}, which makes a snapshot; then {@code appended} checkpoints follow it.
   */
  static void snapshots(JournalDb db, JournalPlan plan, PrintStream err) throws Exception {
    var config = JournalSystem.config(db.config());
    ActorSystem<Void> system = JournalSystem.start(config, "journal-bench-snapshots");
    try {
      UserSettings settings = UserSettings.from(system.settings().config());
      for (String id : plan.snapshotSubjects()) {
        ActorRef<UserActor.Command> user = system.systemActorOf(
            UserActor.create(UserId.of(id), settings, KeyIndex.empty(), Clock.systemUTC()), "user-" + id, Props.empty());
        UserReply reply = AskPattern.<UserActor.Command, UserReply>ask(user, r -> new UserActor.CreateKey(
                KeyId.of(JournalPlan.keyId(id, 3)), JournalPlan.digest(id, 3), KeyName.of("key 3"), null, List.of(), Limits.NONE, r),
            ASK, system.scheduler()).toCompletableFuture().get(ASK.toSeconds(), TimeUnit.SECONDS);
        if (!(reply instanceof UserReply.Done)) throw new IllegalStateException("UserActor refused a key for " + id + ": " + reply);
      }
      // The snapshot is written after the event, asynchronously: wait until every subject has one.
      long deadline = System.nanoTime() + Duration.ofMinutes(1).toNanos();
      for (String id : plan.snapshotSubjects()) {
        while (!db.hasSnapshot(UserActor.PERSISTENCE_PREFIX + id)) {
          if (System.nanoTime() > deadline) throw new IllegalStateException("UserActor made no snapshot for " + id);
          Thread.sleep(50);
        }
      }
    } finally {
      JournalSystem.stop(system);
    }
    system = JournalSystem.start(config, "journal-bench-append");
    try {
      List<Task> tasks = new ArrayList<>();
      for (int i = plan.subjects(); i < 2 * plan.subjects(); i++) {
        List<UserActor.Event> events = new ArrayList<>();
        for (int p = plan.historyLength(); p < plan.historyLength() + plan.appended(); p++) events.add(plan.longEvent(i, p));
        tasks.add(new Task(writer(system, plan.longId(i)), List.copyOf(events)));
      }
      drive(system, tasks.iterator(), (long) plan.subjects() * plan.appended(), tasks.size(), "checkpoints after the snapshots");
    } finally {
      JournalSystem.stop(system);
    }
    err.println("bench: " + plan.subjects() + " users have a snapshot at event " + plan.historyLength() + " and "
        + plan.appended() + " events after it");
  }

  /**
   * Rounds {@code from} until {@code to} of the ordinary users: round p gives every user that has one its event p, so
   * all users grow together, as they would over time. (Users are in descending order of length.)
   */
  private static Iterator<Task> rounds(JournalPlan plan, List<ActorRef<HistoryWriter.Command>> users, int from, int to) {
    return new Iterator<>() {
      int round = from;
      int user;

      @Override public boolean hasNext() { return round < to && user < plan.users() && plan.lengthOf(user) > round; }

      @Override public Task next() {
        if (!hasNext()) throw new NoSuchElementException();
        Task t = new Task(users.get(user), List.of(plan.event(user, round)));
        user++;
        if (user == plan.users() || plan.lengthOf(user) <= round) {
          user = 0;
          round++;
        }
        return t;
      }
    };
  }

  private static ActorRef<HistoryWriter.Command> writer(ActorSystem<?> system, String userId) {
    return system.systemActorOf(new HistoryWriter(UserActor.persistenceId(UserId.of(userId))), "writer-" + userId, Props.empty());
  }

  private static Iterator<Task> iterator(int n, Function<Integer, Task> task) {
    return new Iterator<>() {
      int i;

      @Override public boolean hasNext() { return i < n; }

      @Override public Task next() {
        if (!hasNext()) throw new NoSuchElementException();
        return task.apply(i++);
      }
    };
  }

  /** A phase's outcome before it is named. */
  private record Timing(long events, Duration took, Duration firstTenth) {
    Phase named(String name, int writers, int perWrite, int inFlight) {
      return new Phase(name, writers, perWrite, inFlight, events, took, firstTenth);
    }
  }

  /**
   * Sends every task, at most {@code inFlight} unanswered at once; a task without events asks the writer whether it
   * has recovered. Fails on the first write the journal refused.
   */
  private static Timing drive(ActorSystem<?> system, Iterator<Task> tasks, long events, int inFlight, String what)
      throws InterruptedException {
    Semaphore permits = new Semaphore(inFlight);
    AtomicLong written = new AtomicLong();
    AtomicLong tenth = new AtomicLong(-1);
    AtomicReference<Throwable> failure = new AtomicReference<>();
    long tenthOf = Math.max(1, events / 10);
    long t0 = System.nanoTime();
    while (tasks.hasNext() && failure.get() == null) {
      permits.acquire();
      Task t = tasks.next();
      CompletionStage<Done> answer = t.events() == null
          ? AskPattern.ask(t.writer(), HistoryWriter.Ready::new, ASK, system.scheduler())
          : AskPattern.ask(t.writer(), r -> new HistoryWriter.Write(t.events(), r), ASK, system.scheduler());
      answer.whenComplete((done, e) -> {
        if (e != null) failure.compareAndSet(null, e);
        if (t.events() != null && written.addAndGet(t.events().size()) >= tenthOf) tenth.compareAndSet(-1, System.nanoTime());
        permits.release();
      });
    }
    permits.acquire(inFlight);                                             // every answer is in
    long t1 = System.nanoTime();
    if (failure.get() != null) throw new IllegalStateException("writing " + what + " failed: " + failure.get(), failure.get());
    long mark = tenth.get() < 0 ? t1 : tenth.get();
    return new Timing(written.get(), Duration.ofNanos(t1 - t0), Duration.ofNanos(mark - t0));
  }
}
