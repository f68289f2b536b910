package sluice.edge.dashboard;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import sluice.core.job.ReplicaPhase;
import sluice.core.service.ServiceStatus;
import sluice.core.service.ServiceStatus.Replica;

/**
 * The dashboard's recent job events, derived by comparing successive service statuses: a replica appeared, changed
 * phase, ended (how and why), or is no longer listed. No journal is read: what happened between two looks is seen as
 * one change, and events while the gateway node was down are not shown. Not thread-safe: the feed's state stream is
 * its only caller.
 */
public final class JobEvents {
  /**
   * One change of one replica.
   *
   * @param from   its phase before (lower case), null when it appeared
   * @param to     its phase now (lower case), or "gone" when the service no longer lists it
   * @param detail how it ended and why, Slurm's pending reason, or why it drains; may be null
   */
  public record Event(Instant at, String service, String job, String from, String to, String detail) {}

  private final int keep;
  private final Deque<Event> recent = new ArrayDeque<>();
  private Map<String, Map<String, Replica>> seen = Map.of();

  /** Keeps the newest {@code keep} events. */
  public JobEvents(int keep) {
    if (keep < 1) throw new IllegalArgumentException("keep must be at least 1");
    this.keep = keep;
  }

  /** Compares {@code statuses} with the last look, remembers the events; returns the newest events, newest first. */
  public List<Event> observe(List<ServiceStatus> statuses, Instant now) {
    for (Event e : diff(seen, statuses, now)) {
      recent.addFirst(e);
      if (recent.size() > keep) recent.removeLast();
    }
    seen = remember(seen, statuses);
    return List.copyOf(recent);
  }

  /** The replicas of each service as last seen; a service missing from {@code statuses} (no answer) keeps its last. */
  static Map<String, Map<String, Replica>> remember(Map<String, Map<String, Replica>> before, List<ServiceStatus> statuses) {
    Map<String, Map<String, Replica>> next = new HashMap<>(before);
    for (ServiceStatus s : statuses) {
      Map<String, Replica> jobs = new LinkedHashMap<>();
      s.replicas().forEach(r -> jobs.put(r.jobId(), r));
      next.put(s.service(), jobs);
    }
    return next;
  }

  /**
   * The events between two looks, oldest first. A service seen for the first time only sets the baseline (its replicas
   * did not just appear); a service that did not answer this time has no events. A SUBMITTING replica that is gone got
   * its job id and shows up again under it, so it is not reported.
   */
  static List<Event> diff(Map<String, Map<String, Replica>> before, List<ServiceStatus> statuses, Instant now) {
    List<Event> events = new ArrayList<>();
    for (ServiceStatus s : statuses) {
      Map<String, Replica> old = before.get(s.service());
      if (old == null) continue;
      Map<String, Replica> current = new HashMap<>();
      for (Replica r : s.replicas()) {
        current.put(r.jobId(), r);
        Replica was = old.get(r.jobId());
        if (was == null) {
          events.add(new Event(now, s.service(), r.jobId(), null, phase(r.phase()), detail(r)));
        } else if (was.phase() != r.phase()) {
          events.add(new Event(now, s.service(), r.jobId(), phase(was.phase()), phase(r.phase()), detail(r)));
        }
      }
      old.forEach((job, was) -> {
        if (!current.containsKey(job) && was.phase() != ReplicaPhase.ENDED && was.phase() != ReplicaPhase.SUBMITTING) {
          events.add(new Event(now, s.service(), job, phase(was.phase()), "gone", "no longer listed by the service"));
        }
      });
    }
    return events;
  }

  private static String phase(ReplicaPhase p) { return p.name().toLowerCase(Locale.ROOT); }

  private static String detail(Replica r) {
    if (r.phase() == ReplicaPhase.ENDED && r.end() != null) {
      String how = r.end().name().toLowerCase(Locale.ROOT).replace('_', ' ');
      return r.reason() == null || r.reason().isBlank() ? how : how + ": " + r.reason();
    }
    return r.reason();
  }
}
