package sluice.core.ids;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.security.SecureRandom;
import java.util.HexFormat;
import java.util.regex.Pattern;

/**
 * An API key's id ({@code key_} and 24 hex digits when the gateway makes it), shown by the admin API and used to revoke
 * the key. Never the key's secret: a value that looks like one ({@code sk-...}) is refused without being repeated, so
 * a pasted secret does not end up in an error message or a log.
 */
public record KeyId(String value) {
  private static final Pattern PATTERN = Pattern.compile("key_[A-Za-z0-9_-]{1,124}");
  public static final String RULE = "key_ followed by 1 to 124 of letters, digits, _ and -";
  private static final SecureRandom RANDOM = new SecureRandom();

  public KeyId {
    if (value != null && value.startsWith("sk-")) {
      throw new IllegalArgumentException("that is a key's secret, not its id: key ids start with key_ (shown when the key is"
          + " created and with its user)");
    }
    if (!isValid(value)) throw new IllegalArgumentException("invalid key id " + Ids.quote(value) + ": " + RULE);
  }

  @JsonCreator public static KeyId of(String value) { return new KeyId(value); }

  /** A new random id: 96 bits, so ids made on different gateway nodes do not collide. */
  public static KeyId random() {
    byte[] b = new byte[12];
    RANDOM.nextBytes(b);
    return new KeyId("key_" + HexFormat.of().formatHex(b));
  }

  public static boolean isValid(String value) { return value != null && PATTERN.matcher(value).matches(); }

  @JsonValue @Override public String value() { return value; }

  @Override public String toString() { return value; }
}
