package sluice.core.tunnel;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletionStage;

/**
 * What a transport reports about its connections to one cluster's login nodes (for the local transport: one node,
 * the agent child process). Implementations must return at once: they are called from connection threads.
 */
public interface TunnelObserver {
  /** An attempt to connect to {@code node} has started. */
  void connecting(String node);

  /** {@code node} is connected with this many agent channels. */
  void up(String node, int channels);

  /** The connection to {@code node} ended after it was up. */
  void down(String node, String reason);

  /** An attempt to connect to {@code node} failed; {@code fatal} failures (authentication, host key) need an operator. */
  void failed(String node, String reason, boolean fatal);

  /** No node could be reached; the next attempt starts after {@code delay}. */
  void backingOff(Duration delay);

  /**
   * The live connection's figures when it reaches {@code node}, measured now (a ping round trip included). Fails with a
   * {@link sluice.core.cluster.ClusterException} of {@link sluice.core.cluster.ClusterFailure#TUNNEL_UNRESPONSIVE} when
   * the agent did not answer the ping in time.
   */
  interface Sampler {
    CompletionStage<Optional<TunnelSample>> sample(String node);
  }

  TunnelObserver NONE = new TunnelObserver() {
    @Override public void connecting(String node) {}
    @Override public void up(String node, int channels) {}
    @Override public void down(String node, String reason) {}
    @Override public void failed(String node, String reason, boolean fatal) {}
    @Override public void backingOff(Duration delay) {}
  };
}
