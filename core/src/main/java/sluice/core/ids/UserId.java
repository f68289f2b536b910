package sluice.core.ids;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.regex.Pattern;

/**
 * A user's id: made by an administrator, named in a configured key, or taken from a JWT claim (e-mail addresses and
 * issuer-prefixed subjects fit). The one rule for user ids; JSON and CBOR carry it as a plain string.
 */
public record UserId(String value) implements Comparable<UserId> {
  public static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._@:+-]{0,127}");
  public static final String RULE = "1 to 128 of letters, digits and . _ @ : + - (starting with a letter or digit)";

  public UserId {
    if (!isValid(value)) throw new IllegalArgumentException("invalid user id " + Ids.quote(value) + ": " + RULE);
  }

  @JsonCreator public static UserId of(String value) { return new UserId(value); }

  public static boolean isValid(String value) { return value != null && PATTERN.matcher(value).matches(); }

  @JsonValue @Override public String value() { return value; }

  @Override public String toString() { return value; }

  @Override public int compareTo(UserId o) { return value.compareTo(o.value); }
}
