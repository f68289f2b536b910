package sluice.core.ids;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;

/** A key's label for people ("laptop", "ci"): empty, or up to 128 characters, not blank, no control characters. */
public record KeyName(String value) {
  public static final int MAX = 128;
  public static final KeyName NONE = new KeyName("");
  public static final String RULE = "at most " + MAX + " characters, not blank, no control characters";

  public KeyName {
    if (!isValid(value)) throw new IllegalArgumentException("invalid key name: " + RULE);
  }

  @JsonCreator public static KeyName of(String value) { return new KeyName(value); }

  public static boolean isValid(String value) {
    return value != null && value.length() <= MAX && (value.isEmpty() || !value.isBlank())
        && value.codePoints().noneMatch(Character::isISOControl);
  }

  @JsonValue @Override public String value() { return value; }

  @Override public String toString() { return value; }
}
