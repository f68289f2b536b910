package sluice.core.service;

import sluice.core.AdminRefusal;
import sluice.core.CborSerializable;

/** The service's answer to an operator's command (scale, drain). */
public sealed interface AdminReply extends CborSerializable {
  /** Done; the status after the change. */
  record Done(ServiceStatus status) implements AdminReply {}

  /** Refused ({@code invalid_scale}, {@code replica_not_found}), and why. */
  record Refused(AdminRefusal reason, String message) implements AdminReply {}
}
