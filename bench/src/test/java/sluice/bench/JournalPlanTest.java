package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import sluice.core.user.UserActor;

/** The journal the bench writes: its size, and the key events the key index must find in it. */
class JournalPlanTest {
  static final JournalPlan QUICK = JournalPlan.of(JournalPlan.QUICK_EVENTS);

  @Test void theFillWritesExactlyTheEventsAsked() {
    for (int events : List.of(JournalPlan.QUICK_EVENTS, JournalPlan.DEFAULT_EVENTS, 123_457)) {
      JournalPlan p = JournalPlan.of(events);
      long total = 0;
      for (int i = 0; i < p.users(); i++) total += p.lengthOf(i);
      for (int i = 0; i < 2 * p.subjects(); i++) total += p.longLengthAtFill(i);
      assertEquals(events, total, "events of " + p);
    }
    JournalPlan full = JournalPlan.of(JournalPlan.DEFAULT_EVENTS);
    assertEquals(10_000, full.users());
    assertEquals(2_000, full.historyLength());
  }

  @Test void everyOrdinaryHistoryHasItsUserItsKeysAndItsRevocationBeforeTheCheckpointOnlyRounds() {
    JournalPlan p = QUICK;
    Map<String, String[]> expected = p.expectedKeys();
    Set<String> seen = new HashSet<>();
    long tagged = 0;
    for (int i = 0; i < p.users(); i++) {
      List<UserActor.Event> h = history(p, i);
      assertTrue(h.get(0) instanceof UserActor.UserCreated);
      List<String> keys = new ArrayList<>();
      int revokedAt = -1;
      int key0At = -1;
      for (int pos = 0; pos < h.size(); pos++) {
        UserActor.Event e = h.get(pos);
        boolean keyEvent = !(e instanceof UserActor.CountersSaved);
        if (keyEvent) tagged++;
        if (keyEvent) assertTrue(pos < p.mixedRounds(), "user " + i + " has a key event at " + pos);
        if (e instanceof UserActor.KeyCreated k) {
          keys.add(k.keyId());
          if (k.keyId().equals(JournalPlan.keyId(p.userId(i), 0))) key0At = pos;
          assertTrue(k.digest().matches("[0-9a-f]{64}"));
          assertEquals(List.of(p.userId(i), k.keyId()), List.of(expected.get(k.digest())));
          seen.add(k.digest());
        }
        if (e instanceof UserActor.KeyRevoked r) {
          assertEquals(JournalPlan.keyId(p.userId(i), 0), r.keyId());
          revokedAt = pos;
        }
      }
      assertEquals(p.keysOf(i), keys.size(), "keys of user " + i);
      assertEquals(p.keysOf(i), new HashSet<>(keys).size());
      assertEquals(i % 10 == 0, revokedAt > 0, "every tenth user revokes a key");
      if (revokedAt > 0) assertTrue(key0At > 0 && key0At < revokedAt, "user " + i + " revokes key 0 after making it");
    }
    assertEquals(p.ordinaryTaggedEvents(), tagged);
    assertTrue(p.lengthOf(p.users() - 1) > p.mixedRounds(), "every user has checkpoint-only rounds");
    // Key events of different users sit at different rounds, not all in the same ones.
    Set<Integer> rounds = new HashSet<>();
    for (int i = 0; i < p.users(); i++) {
      for (int pos = 1; pos < p.mixedRounds(); pos++) if (p.event(i, pos) instanceof UserActor.KeyCreated) rounds.add(pos);
    }
    assertEquals(p.mixedRounds() - 2, rounds.size(), "keys are made in every round of the mixed part");

    for (int i = 0; i < 2 * p.subjects(); i++) {
      for (int pos = 0; pos < p.longLengthAtFill(i); pos++) {
        if (p.longEvent(i, pos) instanceof UserActor.KeyCreated k) seen.add(k.digest());
      }
    }
    assertEquals(expected.keySet(), seen, "the index's expected keys are exactly the keys written");
  }

  @Test void aSnapshotSubjectsNextEventIsTheHundredthAndWhatFollowsIsCheckpoints() {
    JournalPlan p = QUICK;
    for (int i = p.subjects(); i < 2 * p.subjects(); i++) {
      assertEquals(0, (p.longLengthAtFill(i) + 1) % 100, "UserActor's next event makes a snapshot");
      for (int pos = p.historyLength(); pos < p.historyLength() + p.appended(); pos++) {
        assertTrue(p.longEvent(i, pos) instanceof UserActor.CountersSaved);
      }
    }
    assertEquals(List.of("long-00", "long-09"), List.of(p.plainSubjects().get(0), p.plainSubjects().get(9)));
    assertEquals("long-10", p.snapshotSubjects().get(0));
  }

  @Test void tooSmallAJournalIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> JournalPlan.of(19_999));
    assertThrows(IllegalArgumentException.class, () -> JournalPlan.of(24_000));
  }

  private static List<UserActor.Event> history(JournalPlan p, int i) {
    List<UserActor.Event> h = new ArrayList<>();
    for (int pos = 0; pos < p.lengthOf(i); pos++) h.add(p.event(i, pos));
    return h;
  }
}
