package sluice.persistence.usage;

/** One user's tokens (prompt plus completion) and requests over a period, for the operator dashboard. */
public record UserTokens(String user, long tokens, long requests) {
  public UserTokens {
    if (user == null) throw new IllegalArgumentException("user is required");
    if (tokens < 0 || requests < 0) throw new IllegalArgumentException("tokens and requests must be >= 0");
  }
}
