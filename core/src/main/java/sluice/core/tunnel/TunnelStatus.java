package sluice.core.tunnel;

import java.time.Instant;

/**
 * One login node's connection as {@code GET /admin/tunnels} shows it. {@code roundTripMillis} is the last ping
 * through the agent channels, while the agent answers; {@code lastAnswerAt} is when it last answered one, and
 * {@code silentMillis} how long ago that was, while it is {@link TunnelState#UNRESPONSIVE}; {@code retryAt} is set
 * while backing off.
 */
public record TunnelStatus(String cluster, String node, TunnelState state, Instant since, String reason, int channels,
                           int streams, Double roundTripMillis, long connects, long failures, Instant retryAt,
                           Instant lastAnswerAt, Long silentMillis) {

  public enum TunnelState {
    /** Not used yet, or a standby node while another node of the cluster is up. */
    IDLE,
    CONNECTING,
    UP,
    /**
     * Connected, but the agent has not answered a ping within the ping timeout (stopped, wedged, starved): requests are
     * refused until it answers again. The connection is kept: the agent may resume.
     */
    UNRESPONSIVE,
    /** The last attempt failed for a reason that may pass (network, sshd restart); retrying with backoff. */
    BACKING_OFF,
    /** Authentication or host-key verification failed: retried only slowly, an operator must act. */
    FAILED
  }
}
