package sluice.core.service;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import sluice.core.cluster.JobSnapshot;
import sluice.core.config.CoreSettings;
import sluice.core.config.ServiceSettings;
import sluice.core.service.ServiceActor.Event;
import sluice.core.service.ServiceActor.IntentDropped;
import sluice.core.service.ServiceActor.JobTracked;
import sluice.core.service.ServiceActor.State;
import sluice.core.service.ServiceActor.TrackedJob;

/**
 * What one job listing of the cluster means for a service: which tracked job sees what, which intents of an earlier
 * incarnation reached the cluster (adopt) or did not (drop), and which jobs of this deployment nobody tracks (orphans:
 * adopted or cancelled once seen in two listings in a row). Pure: the service actor persists, tells and cancels.
 */
final class ListingReconciler {
  /** What a child actor is told: its job as listed, or null when a listing taken after its submission lacks it. */
  record Observation(String jobId, JobSnapshot seen) {}

  /**
   * @param events           to persist: {@link JobTracked} for recovered intents and adopted orphans, {@link IntentDropped}
   * @param tracked          the listed job of each {@link JobTracked} in {@code events}: spawn and observe it once stored
   * @param observations     for the jobs that have a child actor
   * @param orphansToCancel  orphans seen twice when orphans are cancelled; listed again while they run, so the caller
   *                         cancels each once
   * @param orphanCandidates orphans of this listing, to pass with the next one
   */
  record Result(List<Event> events, List<JobSnapshot> tracked, List<Observation> observations,
                List<JobSnapshot> orphansToCancel, Set<String> orphanCandidates) {
    Result {
      events = List.copyOf(events);
      tracked = List.copyOf(tracked);
      observations = List.copyOf(observations);
      orphansToCancel = List.copyOf(orphansToCancel);
      orphanCandidates = Set.copyOf(orphanCandidates);
    }
  }

  private final String service;
  private final String ours;                     // this deployment's tag prefix
  private final CoreSettings.Orphans orphans;
  private final Duration pollInterval;

  ListingReconciler(ServiceSettings service, CoreSettings core) {
    this.service = service.id();
    this.ours = SubmissionTag.prefix(core.deployment());
    this.orphans = core.recovery().orphans();
    this.pollInterval = core.clusters().get(service.cluster()).pollInterval();
  }

  /**
   * @param children    tracked jobs that have a child actor
   * @param adoptedAt   when this incarnation learned of a job (the submission's answer, or an adoption by tag)
   * @param submitting  tags whose submission is on its way (not an earlier incarnation's)
   * @param asked       when the listing was asked for
   * @param orphansSeen {@code orphanCandidates} of the previous listing
   * @param now         the time recorded in the events
   */
  Result reconcile(State state, Set<String> children, Map<String, Instant> adoptedAt, Set<String> submitting,
                   List<JobSnapshot> listing, Instant asked, Set<String> orphansSeen, Instant now) {
    Map<String, JobSnapshot> byId = new HashMap<>();
    Map<String, JobSnapshot> byTag = new HashMap<>();
    for (JobSnapshot j : listing) {
      if (!service.equals(j.service()) || j.tag() == null || !j.tag().startsWith(ours)) continue;
      byId.put(j.jobId(), j);
      byTag.put(j.tag(), j);
    }
    // A cluster's listing is shared by its services for up to one poll interval, so a job submitted since may be
    // missing from it without having vanished: only a listing taken after the submission may declare it gone. The
    // submission is dated by its intent, but the job exists only from the submit's answer, which may come much later
    // (a slow sbatch, submits queued behind the submit lock): the later of the two counts. With the intent alone, a
    // listing taken between the two declared a new job gone, and every re-adoption of it by its tag met the same fate.
    Instant listedNoEarlierThan = asked.minus(pollInterval);
    List<Observation> observations = new ArrayList<>();
    for (TrackedJob job : state.jobs().values()) {
      JobSnapshot seen = byId.get(job.jobId());
      Instant exists = job.submittedAt();
      Instant adopted = adoptedAt.get(job.jobId());
      if (adopted != null && adopted.isAfter(exists)) exists = adopted;
      if (children.contains(job.jobId()) && (seen != null || exists.isBefore(listedNoEarlierThan))) {
        observations.add(new Observation(job.jobId(), seen));
      }
    }
    List<Event> events = new ArrayList<>();
    List<JobSnapshot> tracked = new ArrayList<>();
    // Intents left by an earlier incarnation: the submission either reached the cluster (adopt) or it did not.
    for (String tag : state.intents().keySet()) {
      if (submitting.contains(tag)) continue;
      JobSnapshot found = byTag.get(tag);
      if (found != null) {
        events.add(new JobTracked(tag, found.jobId(), now));
        tracked.add(found);
      } else {
        events.add(new IntentDropped(tag, "not on the cluster after a restart", now));
      }
    }
    // Orphans: this deployment's live jobs of this service that nobody tracks (e.g. the journal was lost). Seen in two
    // listings in a row, so a listing older than a job's end (listings are shared and may cross) adopts nothing.
    Set<String> candidates = new HashSet<>();
    List<JobSnapshot> toCancel = new ArrayList<>();
    for (JobSnapshot j : byId.values()) {
      if (j.state().isFinal() || state.jobs().containsKey(j.jobId()) || state.intents().containsKey(j.tag())) continue;
      candidates.add(j.jobId());
      if (!orphansSeen.contains(j.jobId())) continue;
      if (orphans == CoreSettings.Orphans.ADOPT) {
        events.add(new JobTracked(j.tag(), j.jobId(), now));
        tracked.add(j);
      } else {
        toCancel.add(j);
      }
    }
    return new Result(events, tracked, observations, toCancel, candidates);
  }
}
