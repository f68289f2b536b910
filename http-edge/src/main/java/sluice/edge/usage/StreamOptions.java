package sluice.edge.usage;

import com.fasterxml.jackson.core.StreamReadFeature;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.cfg.JsonNodeFeature;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import org.apache.pekko.util.ByteString;

/**
 * Makes a streaming chat or text completion request report its usage to Sluice, whatever the client asked: the
 * upstream body gets {@code stream_options.include_usage: true} (and vLLM's {@code continuous_usage_stats: true}, so
 * every chunk carries the usage so far and a stream cut short is billed for what was sent), and {@link Prepared}
 * remembers what the client asked so that {@link UsageMeter#sse} can give the client exactly that back.
 *
 * <p>The rest of the body reaches the model server unchanged in meaning: field order is kept, and numbers keep their
 * exact value when the body was read with {@link #read} (floats as {@code BigDecimal} with their scale, so
 * {@code 0.7} stays {@code 0.7} and {@code 1.0} stays a float; integers of any size stay integers).
 */
public final class StreamOptions {
  private StreamOptions() {}

  /**
   * Reads and writes request bodies without rounding a number through {@code double}. A body with data after its JSON
   * value or a field given twice is refused: the model server could read it otherwise than the gateway did (another
   * model, another max_tokens).
   */
  private static final ObjectMapper EXACT = JsonMapper.builder()
      .enable(StreamReadFeature.STRICT_DUPLICATE_DETECTION)
      .enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS)
      .enable(DeserializationFeature.USE_BIG_DECIMAL_FOR_FLOATS)
      .configure(JsonNodeFeature.STRIP_TRAILING_BIGDECIMAL_ZEROES, false)
      .build();

  /**
   * The upstream body and what the client asked for itself.
   *
   * @param clientIncludeUsage    the client's {@code stream_options.include_usage}
   * @param clientContinuousUsage the client's {@code stream_options.continuous_usage_stats} (it has an effect only
   *                              together with include_usage; {@link UsageMeter#sse} applies that rule)
   */
  public record Prepared(ByteString body, boolean clientIncludeUsage, boolean clientContinuousUsage) {}

  /** A {@code stream_options} the model server would refuse too; {@code param} names the offending field. */
  public static final class InvalidStreamOptions extends IllegalArgumentException {
    private final String param;

    InvalidStreamOptions(String param, String message) {
      super(message);
      this.param = param;
    }

    public String param() {
      return param;
    }
  }

  /**
   * Reads a request body keeping every number exact; use it for bodies that {@link #prepare} will write back.
   *
   * @throws IOException when the body is not one JSON value, or has a field twice
   */
  public static JsonNode read(ByteString body) throws IOException {
    return EXACT.readTree(body.toArrayUnsafe());
  }

  /**
   * The upstream body of a streaming request ({@code "stream": true}), asking for usage. The client's own
   * {@code stream_options} fields are kept (an explicit {@code false} is overridden); the request is not modified.
   *
   * @param perChunkUsage the service understands vLLM's {@code continuous_usage_stats}
   * @throws InvalidStreamOptions     when {@code stream_options} is not an object or its usage flags are not booleans:
   *                                  overriding them would hide an error the model server reports
   * @throws IllegalArgumentException when the request is not a streaming one
   */
  public static Prepared prepare(ObjectNode request, boolean perChunkUsage) {
    JsonNode stream = request.get("stream");
    if (stream == null || !stream.isBoolean() || !stream.booleanValue()) {
      throw new IllegalArgumentException("only a streaming request (\"stream\": true) asks for stream usage");
    }
    JsonNode given = request.get("stream_options");
    if (given != null && !given.isNull() && !given.isObject()) {
      throw new InvalidStreamOptions("stream_options", "'stream_options' must be an object");
    }
    boolean include = false;
    boolean continuous = false;
    ObjectNode options = EXACT.createObjectNode();
    if (given != null && given.isObject()) {
      include = flag(given, "include_usage");
      continuous = flag(given, "continuous_usage_stats");
      options = ((ObjectNode) given).deepCopy();
    }
    options.put("include_usage", true);
    if (perChunkUsage) options.put("continuous_usage_stats", true);
    ObjectNode upstream = request.deepCopy();
    upstream.set("stream_options", options);               // an existing member keeps its place
    try {
      return new Prepared(ByteString.fromArrayUnsafe(EXACT.writeValueAsBytes(upstream)), include, continuous);
    } catch (IOException e) {
      throw new UncheckedIOException("writing a JSON tree to memory failed", e);   // cannot happen: no I/O
    }
  }

  /** Absent and null are false, as OpenAI treats them; anything else but a boolean is the client's error. */
  private static boolean flag(JsonNode options, String name) {
    JsonNode value = options.get(name);
    if (value == null || value.isNull()) return false;
    if (!value.isBoolean()) {
      throw new InvalidStreamOptions("stream_options." + name, "'stream_options." + name + "' must be a boolean");
    }
    return value.booleanValue();
  }
}
