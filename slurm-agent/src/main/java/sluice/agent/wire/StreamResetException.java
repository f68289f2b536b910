package sluice.agent.wire;

import java.io.IOException;

/** A stream was reset by either side or ended with its session; {@link #problem()} says why. */
public final class StreamResetException extends IOException {
  private static final long serialVersionUID = 1L;
  private final transient Messages.Problem problem;

  public StreamResetException(Messages.Problem problem) {
    super(problem.code().wire() + (problem.message().isEmpty() ? "" : ": " + problem.message()));
    this.problem = problem;
  }

  public Messages.Problem problem() { return problem; }

  public ProblemCode code() { return problem.code(); }
}
