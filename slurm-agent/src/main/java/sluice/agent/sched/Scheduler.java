package sluice.agent.sched;

import java.net.URI;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import sluice.agent.config.ServiceSpec;
import sluice.agent.wire.Messages.CancelResult;
import sluice.agent.wire.Messages.JobInfo;

/**
 * Runs the service jobs of this agent. Implementations only ever see jobs this agent submitted: listing, cancelling
 * and forwarding are confined to them, whatever job id the gateway names.
 */
public interface Scheduler {
  /** Submits one job of {@code service}; {@code tag} is stored with it so the gateway can find it after a crash. */
  JobInfo submit(ServiceSpec service, String tag) throws SchedulerException;

  /** Every job of this agent the scheduler still knows, final states included for a while. */
  List<JobInfo> jobs() throws SchedulerException;

  /** The job with this id if this agent submitted it. */
  Optional<JobInfo> job(String jobId) throws SchedulerException;

  /** Cancels one of this agent's jobs; empty when the id names no such job. */
  Optional<CancelResult> cancel(String jobId) throws SchedulerException;

  /** Where the model server of a running job listens, if it does. */
  Optional<URI> endpoint(JobInfo job);

  /**
   * The file that receives the job's stdout and stderr, decided from the job alone (never from anything the gateway
   * sends); empty when the scheduler keeps none. The file may not exist yet while the job is pending.
   */
  Optional<Path> outputFile(JobInfo job);

  /** The job's secret ({@code SLUICE_JOB_TOKEN}) that its model server requires; empty for jobs from before tokens. */
  default Optional<String> token(JobInfo job) { return Optional.empty(); }

  /** A scheduler command failed; the message is safe to return to the gateway. */
  final class SchedulerException extends Exception {
    private static final long serialVersionUID = 1L;

    public SchedulerException(String message) { super(message); }

    public SchedulerException(String message, Throwable cause) { super(message, cause); }
  }
}
