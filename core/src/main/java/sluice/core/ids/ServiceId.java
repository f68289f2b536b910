package sluice.core.ids;

import com.fasterxml.jackson.annotation.JsonCreator;
import com.fasterxml.jackson.annotation.JsonValue;
import java.util.regex.Pattern;

/**
 * A service's id, which is also the model id clients send ({@code "model": "llama-3.1-8b"}) and the key of
 * {@code sluice.services}. Cluster names follow the same rule. The agent checks the same rule on its side of the wire
 * ({@code sluice.agent.wire.Messages}), since it trusts nothing the gateway sends; a test keeps the two equal.
 */
public record ServiceId(String value) implements Comparable<ServiceId> {
  public static final Pattern PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
  public static final String RULE = "1 to 128 of letters, digits and . _ - (starting with a letter or digit)";

  public ServiceId {
    if (!isValid(value)) throw new IllegalArgumentException("invalid model " + Ids.quote(value) + ": " + RULE);
  }

  @JsonCreator public static ServiceId of(String value) { return new ServiceId(value); }

  public static boolean isValid(String value) { return value != null && PATTERN.matcher(value).matches(); }

  @JsonValue @Override public String value() { return value; }

  @Override public String toString() { return value; }

  @Override public int compareTo(ServiceId o) { return value.compareTo(o.value); }
}
