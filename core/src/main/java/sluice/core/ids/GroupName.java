package sluice.core.ids;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.regex.Pattern;

/**
 * A group a user belongs to: set by an administrator, named in a configured key, or taken from a JWT's group claims.
 * Identity providers name groups freely ({@code /org/unit}, {@code Domain Users}, {@code Forschung-Ä}), so the rule
 * only keeps out what cannot be a name: control characters, leading and trailing blanks, a leading {@code -} (it reads
 * as an option on a command line) and more than 256 characters.
 */
public record GroupName(String value) {
  private static final Pattern PATTERN = Pattern.compile("[\\p{L}\\p{N}/](?:[^\\p{Cntrl}]{0,254}[^\\p{Cntrl}\\s])?");
  public static final String RULE = "1 to 256 characters without control characters, starting with a letter, a digit or /"
      + " and not ending with a blank";

  public GroupName {
    if (!isValid(value)) throw new IllegalArgumentException("invalid group " + Ids.quote(value) + ": " + RULE);
  }

  @JsonCreator public static GroupName of(String value) { return new GroupName(value); }

  public static boolean isValid(String value) { return value != null && PATTERN.matcher(value).matches(); }

  @JsonValue @Override public String value() { return value; }

  @Override public String toString() { return value; }
}
