package sluice.core.service;

import sluice.core.CborSerializable;

/** The service's answer to an operator's command (scale, drain). */
public sealed interface AdminReply extends CborSerializable {
  /** Done; the status after the change. */
  record Done(ServiceStatus status) implements AdminReply {}

  /** Refused, with a machine-readable code ({@code invalid_scale}, {@code replica_not_found}) and why. */
  record Refused(String code, String message) implements AdminReply {}
}
