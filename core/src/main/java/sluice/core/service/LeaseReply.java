package sluice.core.service;

import sluice.core.CborSerializable;

/** The service's answer to a request for a replica. */
public sealed interface LeaseReply extends CborSerializable {
  /** Send the request to this job; release the lease with {@link ServiceActor.Release} when the response has ended. */
  record Granted(String service, String cluster, String jobId, String leaseId) implements LeaseReply {}

  /** No replica could take the request in time; the client should retry after {@code retryAfterSeconds}. */
  record Unavailable(LeaseRefusal reason, String message, long retryAfterSeconds) implements LeaseReply {}
}
