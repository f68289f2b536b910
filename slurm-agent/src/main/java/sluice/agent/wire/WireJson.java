package sluice.agent.wire;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.core.StreamReadConstraints;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.datatype.jsr310.JavaTimeModule;
import java.io.IOException;
import java.io.UncheckedIOException;

/** The one JSON mapper for protocol payloads: strict on input (unknown fields allowed for forward compatibility). */
public final class WireJson {
  private WireJson() {}

  public static final ObjectMapper MAPPER = JsonMapper.builder()
      .addModule(new JavaTimeModule())
      .disable(SerializationFeature.WRITE_DATES_AS_TIMESTAMPS)
      .disable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
      .enable(DeserializationFeature.FAIL_ON_NULL_FOR_PRIMITIVES)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .serializationInclusion(JsonInclude.Include.NON_NULL)
      .build();

  static {
    // Heads are at most a few KiB; refuse deep nesting early instead of recursing on hostile input.
    MAPPER.getFactory().setStreamReadConstraints(StreamReadConstraints.builder().maxNestingDepth(16).build());
  }

  public static String write(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  public static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Decodes a payload; any malformed or invalid value becomes an IllegalArgumentException with a short reason. */
  public static <T> T read(byte[] payload, Class<T> type) {
    try {
      T value = MAPPER.readValue(payload, type);
      if (value == null) throw new IllegalArgumentException("empty " + type.getSimpleName());
      return value;
    } catch (IOException e) {
      Throwable cause = e.getCause();
      if (cause instanceof IllegalArgumentException iae) throw iae;
      throw new IllegalArgumentException("malformed " + type.getSimpleName() + ": " + firstLine(e.getMessage()));
    }
  }

  public static JsonNode tree(Object value) { return MAPPER.valueToTree(value); }

  public static <T> T convert(JsonNode node, Class<T> type) {
    try {
      return MAPPER.treeToValue(node, type);
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("malformed " + type.getSimpleName() + ": " + firstLine(e.getMessage()));
    }
  }

  private static String firstLine(String s) {
    if (s == null) return "";
    int nl = s.indexOf('\n');
    return nl < 0 ? s : s.substring(0, nl);
  }
}
