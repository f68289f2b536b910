package sluice.edge.usage;

/** Tokens one request consumed, as the model server reported them (or as counted when it reported nothing). */
public record TokenUsage(long promptTokens, long completionTokens) {
  public TokenUsage {
    if (promptTokens < 0 || completionTokens < 0) {
      throw new IllegalArgumentException("token counts must not be negative: prompt " + promptTokens + ", completion " + completionTokens);
    }
  }

  public long total() {
    return promptTokens + completionTokens;
  }
}
