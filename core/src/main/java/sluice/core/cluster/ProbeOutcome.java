package sluice.core.cluster;

/**
 * A replica's health check. {@code timedOut}: its model server did not answer in time (busy or hung), as opposed to
 * answering an error or refusing the connection; the job actor tells the two apart ({@code SlurmJobActor}).
 */
public record ProbeOutcome(boolean ready, String detail, boolean timedOut) {
  public ProbeOutcome(boolean ready, String detail) { this(ready, detail, false); }
}
