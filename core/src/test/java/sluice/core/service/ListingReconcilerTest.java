package sluice.core.service;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import sluice.core.cluster.JobSnapshot;
import sluice.core.cluster.SlurmState;
import sluice.core.config.ClusterSettings;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.service.ListingReconciler.Observation;
import sluice.core.service.ServiceActor.IntentDropped;
import sluice.core.service.ServiceActor.JobTracked;
import sluice.core.service.ServiceActor.State;
import sluice.core.service.ServiceActor.TrackedJob;

/** What one listing of the cluster means for a service: no actors, no clock, no cluster. */
class ListingReconcilerTest {
  private static final Instant T0 = Instant.parse("2030-01-01T12:00:00Z");
  private static final Duration POLL = Duration.ofSeconds(10);
  private static final String TAG = "prod.0123456789abcdef";
  private static final String OTHER_TAG = "prod.fedcba9876543210";

  private static final State EMPTY = new State(T0, Map.of(), Map.of(), null, null);

  private static ListingReconciler reconciler(CoreSettings.Orphans orphans) {
    var life = new ServiceSettings.Lifecycle(Duration.ofMinutes(1), Duration.ofMinutes(1), Duration.ofMinutes(10),
        Duration.ofMinutes(10), Duration.ofMinutes(10), Duration.ofSeconds(5), 2);
    var service = new ServiceSettings("llm", "c", "sluice", List.of("text"), List.of("text"), 1, 1, 4, 10,
        Duration.ofSeconds(10), life);
    var core = new CoreSettings("prod", Map.of(), Map.of("c", new ClusterSettings("c", POLL)), Duration.ofSeconds(1),
        Duration.ofSeconds(3), Duration.ofSeconds(1), Duration.ofSeconds(8), new CoreSettings.Recovery(orphans, 3, Duration.ofSeconds(5)),
        Duration.ofSeconds(30));
    return new ListingReconciler(service, core);
  }

  private static final ListingReconciler ADOPT = reconciler(CoreSettings.Orphans.ADOPT);
  private static final ListingReconciler CANCEL = reconciler(CoreSettings.Orphans.CANCEL);

  private static JobSnapshot job(String id, String service, String tag, SlurmState state) {
    return new JobSnapshot(id, service, tag, state, "node-1", T0, T0.plusSeconds(3600), "None", null);
  }

  private static JobSnapshot running(String id, String tag) { return job(id, "llm", tag, SlurmState.RUNNING); }

  private static State withIntent(String tag, Instant at) { return EMPTY.withIntent(tag, at); }

  private static State tracking(String jobId, String tag, Instant submittedAt) {
    return EMPTY.withJob(new TrackedJob(jobId, tag, submittedAt));
  }

  /** A listing asked at {@code asked}, by a service whose children are {@code children}, with nothing being submitted. */
  private static ListingReconciler.Result listed(ListingReconciler r, State s, Set<String> children, Set<String> seen,
                                                 Instant asked, JobSnapshot... jobs) {
    return r.reconcile(s, children, Map.of(), Set.of(), List.of(jobs), asked, seen, asked.plusMillis(5));
  }

  // ---------------------------------------------------------------- intents of an earlier incarnation

  @Test void anIntentFoundOnTheClusterByItsTagIsAdoptedAfterACrash() {
    JobSnapshot found = running("41", TAG);
    var r = listed(ADOPT, withIntent(TAG, T0), Set.of(), Set.of(), T0.plusSeconds(60), found);
    assertEquals(List.of(new JobTracked(TAG, "41", T0.plusSeconds(60).plusMillis(5))), r.events());
    assertEquals(List.of(found), r.tracked());
    assertEquals(Set.of(), r.orphanCandidates(), "an intent's job is not an orphan");
  }

  @Test void anIntentNotOnTheClusterIsDropped() {
    var r = listed(ADOPT, withIntent(TAG, T0), Set.of(), Set.of(), T0.plusSeconds(60));
    assertEquals(List.of(new IntentDropped(TAG, "not on the cluster after a restart", T0.plusSeconds(60).plusMillis(5))), r.events());
    assertEquals(List.of(), r.tracked());
  }

  @Test void anIntentBeingSubmittedIsLeftAlone() {
    var r = ADOPT.reconcile(withIntent(TAG, T0), Set.of(), Map.of(), Set.of(TAG), List.of(), T0.plusSeconds(60), Set.of(), T0.plusSeconds(60));
    assertEquals(List.of(), r.events());
  }

  @Test void anIntentIsResolvedByItsOwnTagOnly() {
    var r = listed(ADOPT, withIntent(TAG, T0), Set.of(), Set.of(), T0.plusSeconds(60), running("42", OTHER_TAG));
    assertEquals(List.of(new IntentDropped(TAG, "not on the cluster after a restart", T0.plusSeconds(60).plusMillis(5))), r.events());
    assertEquals(Set.of("42"), r.orphanCandidates());
  }

  // ---------------------------------------------------------------- orphans

  @Test void anOrphanIsOnlyACandidateInTheFirstListingThatShowsIt() {
    var r = listed(ADOPT, EMPTY, Set.of(), Set.of(), T0, running("7", TAG));
    assertEquals(List.of(), r.events());
    assertEquals(List.of(), r.orphansToCancel());
    assertEquals(Set.of("7"), r.orphanCandidates());
  }

  @Test void anOrphanSeenInTwoListingsInARowIsAdoptedWhenConfiguredSo() {
    JobSnapshot orphan = running("7", TAG);
    var first = listed(ADOPT, EMPTY, Set.of(), Set.of(), T0, orphan);
    var second = listed(ADOPT, EMPTY, Set.of(), first.orphanCandidates(), T0.plusSeconds(10), orphan);
    assertEquals(List.of(new JobTracked(TAG, "7", T0.plusSeconds(10).plusMillis(5))), second.events());
    assertEquals(List.of(orphan), second.tracked());
    assertEquals(List.of(), second.orphansToCancel());
  }

  @Test void anOrphanSeenInTwoListingsInARowIsCancelledWhenConfiguredSo() {
    JobSnapshot orphan = running("7", TAG);
    var first = listed(CANCEL, EMPTY, Set.of(), Set.of(), T0, orphan);
    assertEquals(List.of(), first.orphansToCancel());
    var second = listed(CANCEL, EMPTY, Set.of(), first.orphanCandidates(), T0.plusSeconds(10), orphan);
    assertEquals(List.of(orphan), second.orphansToCancel());
    assertEquals(List.of(), second.events(), "a cancelled orphan is not tracked");
    assertEquals(Set.of("7"), second.orphanCandidates(), "listed again while it runs: the caller cancels it once");
  }

  @Test void anOrphanMissingFromOneListingStartsOver() {
    var first = listed(ADOPT, EMPTY, Set.of(), Set.of(), T0, running("7", TAG));
    var gap = listed(ADOPT, EMPTY, Set.of(), first.orphanCandidates(), T0.plusSeconds(10));
    var third = listed(ADOPT, EMPTY, Set.of(), gap.orphanCandidates(), T0.plusSeconds(20), running("7", TAG));
    assertEquals(List.of(), third.events());
    assertEquals(Set.of("7"), third.orphanCandidates());
  }

  @Test void aFinishedJobIsNoOrphan() {
    var r = listed(CANCEL, EMPTY, Set.of(), Set.of("7"), T0, job("7", "llm", TAG, SlurmState.COMPLETED));
    assertEquals(Set.of(), r.orphanCandidates());
    assertEquals(List.of(), r.orphansToCancel());
  }

  @Test void aTrackedJobIsNoOrphan() {
    var r = listed(CANCEL, tracking("7", TAG, T0), Set.of("7"), Set.of("7"), T0.plusSeconds(60), running("7", TAG));
    assertEquals(Set.of(), r.orphanCandidates());
    assertEquals(List.of(), r.orphansToCancel());
    assertEquals(List.of(), r.events());
  }

  @Test void otherDeploymentsJobsAreIgnored() {
    JobSnapshot foreign = running("8", "staging.0123456789abcdef");
    var r = listed(CANCEL, withIntent(TAG, T0), Set.of(), Set.of("8"), T0.plusSeconds(60), foreign,
        running("9", "prod-eu.0123456789abcdef"), running("10", null));
    assertEquals(Set.of(), r.orphanCandidates());
    assertEquals(List.of(), r.orphansToCancel());
    assertEquals(List.of(new IntentDropped(TAG, "not on the cluster after a restart", T0.plusSeconds(60).plusMillis(5))), r.events(),
        "a job of another deployment does not resolve an intent");
  }

  @Test void otherServicesJobsAreIgnored() {
    JobSnapshot theirs = job("8", "other-model", TAG, SlurmState.RUNNING);
    var r = listed(CANCEL, withIntent(TAG, T0), Set.of(), Set.of("8"), T0.plusSeconds(60), theirs);
    assertEquals(Set.of(), r.orphanCandidates());
    assertEquals(List.of(), r.orphansToCancel());
    assertTrue(r.events().get(0) instanceof IntentDropped, "another service's job with the same tag is not ours");
  }

  // ---------------------------------------------------------------- observations of tracked jobs

  @Test void aListedJobIsObservedByItsChild() {
    JobSnapshot seen = running("7", TAG);
    var r = listed(ADOPT, tracking("7", TAG, T0), Set.of("7"), Set.of(), T0.plusSeconds(1), seen);
    assertEquals(List.of(new Observation("7", seen)), r.observations());
  }

  @Test void aJobMissingFromAListingTakenAfterItsSubmissionIsGone() {
    var r = listed(ADOPT, tracking("7", TAG, T0), Set.of("7"), Set.of(), T0.plus(POLL).plusSeconds(1));
    assertEquals(1, r.observations().size());
    assertEquals("7", r.observations().get(0).jobId());
    assertNull(r.observations().get(0).seen(), "no snapshot: the scheduler no longer lists it");
  }

  @Test void aListingThatMayBeOlderThanASubmissionDoesNotDeclareTheJobGone() {
    // Asked one second after the submission, but listings are shared for up to a poll interval: it may predate the job.
    var r = listed(ADOPT, tracking("7", TAG, T0), Set.of("7"), Set.of(), T0.plusSeconds(1));
    assertEquals(List.of(), r.observations());
  }

  @Test void aJobWhoseSubmitWasAnsweredLateIsNotDeclaredGoneByAListingOlderThanTheAnswer() {
    // The intent at T0, the submit's answer (the job's id) only POLL + 5 s later: a listing asked one second after the
    // answer may predate the job. CI saw such a job declared gone 33 ms after its submission, then re-adopted by its
    // tag and declared gone again, 380 times in two minutes.
    Instant answered = T0.plus(POLL).plusSeconds(5);
    State s = tracking("7", TAG, T0);
    var early = ADOPT.reconcile(s, Set.of("7"), Map.of("7", answered), Set.of(), List.of(), answered.plusSeconds(1), Set.of(),
        answered.plusSeconds(1));
    assertEquals(List.of(), early.observations());
    var late = ADOPT.reconcile(s, Set.of("7"), Map.of("7", answered), Set.of(), List.of(), answered.plus(POLL).plusSeconds(1),
        Set.of(), answered.plus(POLL).plusSeconds(1));
    assertEquals(1, late.observations().size(), "a listing taken after the answer may declare it gone");
    assertNull(late.observations().get(0).seen());
  }

  @Test void aJobWithoutAChildIsNotObserved() {
    var r = listed(ADOPT, tracking("7", TAG, T0), Set.of(), Set.of(), T0.plusSeconds(60), running("7", TAG));
    assertEquals(List.of(), r.observations());
  }
}
