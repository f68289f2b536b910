package sluice.core.cluster;

/**
 * A cluster call failed. {@code code} is stable (the agent's problem codes, or {@code unavailable} when no connection
 * to the cluster exists); {@code beforeUpstream} says the request provably never reached a model server, so it may
 * be retried elsewhere.
 */
public final class ClusterException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final String code;
  private final int status;
  private final boolean beforeUpstream;

  public ClusterException(String code, int status, String message, boolean beforeUpstream) {
    super(message);
    this.code = code;
    this.status = status;
    this.beforeUpstream = beforeUpstream;
  }

  public String code() { return code; }

  /** The HTTP status that best describes the failure to a client (502, 503, 504, or the agent's refusal status). */
  public int status() { return status; }

  public boolean beforeUpstream() { return beforeUpstream; }
}
