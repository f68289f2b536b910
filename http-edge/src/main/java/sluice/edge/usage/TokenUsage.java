package sluice.edge.usage;

/**
 * Tokens one request consumed, as the model server reported them (or as counted when it reported nothing). Counts
 * whose sum would pass the largest long are cut so that it is reached exactly: the usage record and the quota
 * arithmetic then never see an overflow, whatever the model server claims.
 */
public record TokenUsage(long promptTokens, long completionTokens) {
  public TokenUsage {
    if (promptTokens < 0 || completionTokens < 0) {
      throw new IllegalArgumentException("token counts must not be negative: prompt " + promptTokens + ", completion " + completionTokens);
    }
    completionTokens = Math.min(completionTokens, Long.MAX_VALUE - promptTokens);
  }

  public long total() {
    return promptTokens + completionTokens;
  }
}
