package sluice.agent.wire;

/**
 * Resource bounds of one mux session; both sides enforce their own and announce them in {@link Messages.Hello}.
 *
 * @param maxDataFrame largest DATA payload a peer may send (bytes); larger writes are split
 * @param maxHeadBytes largest HEADERS, HELLO, RESET or GO_AWAY payload (bytes)
 * @param maxStreams   most streams open at once; a SYN beyond it is reset with {@code refused}
 * @param initialWindow per-stream receive credit each side starts with (bytes)
 * @param maxNoiseBytes bytes of login-shell noise the client skips while looking for the banner
 */
public record Limits(int maxDataFrame, int maxHeadBytes, int maxStreams, int initialWindow, int maxNoiseBytes) {
  public static final Limits DEFAULT = new Limits(64 * 1024, 16 * 1024, 256, 256 * 1024, 64 * 1024);

  public Limits {
    if (maxDataFrame < 1024 || maxDataFrame > 1 << 20) throw new IllegalArgumentException("maxDataFrame must be in [1 KiB, 1 MiB]");
    if (maxHeadBytes < 512 || maxHeadBytes > 1 << 20) throw new IllegalArgumentException("maxHeadBytes must be in [512 B, 1 MiB]");
    if (maxStreams < 1 || maxStreams > 65_536) throw new IllegalArgumentException("maxStreams must be in [1, 65536]");
    if (initialWindow < maxDataFrame || initialWindow > 16 << 20) {
      throw new IllegalArgumentException("initialWindow must be in [maxDataFrame, 16 MiB]");
    }
    if (maxNoiseBytes < 0) throw new IllegalArgumentException("maxNoiseBytes must be >= 0");
  }
}
