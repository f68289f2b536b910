package sluice.core.service;

import java.util.Locale;

/** Why a service could not lease a replica to a request. */
public enum LeaseRefusal {
  /** Replicas keep failing to start, none is on its way, and the next attempt is further away than the queue wait. */
  DEGRADED,
  /** The admission queue holds {@code max-queue} requests already. */
  QUEUE_FULL,
  /** The request waited {@code max-queue-wait} without a replica taking it. */
  QUEUE_TIMEOUT,
  /** The ready replicas cannot be reached: the cluster's agent stopped answering its pings (it may resume). */
  TUNNEL_UNRESPONSIVE;

  /** The stable name for logs and metrics. */
  public String label() { return name().toLowerCase(Locale.ROOT); }
}
