package sluice.edge.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.Arrays;

/**
 * What one SSE event's JSON payload (a completion chunk) holds for metering, with the byte positions of its top-level
 * {@code "usage"} member so that it can be removed or nulled without touching any other byte.
 *
 * @param usage          the usage object's counts, or null (absent, null or not understood)
 * @param usageMembers   how many top-level "usage" members there are (more than one: leave the event alone)
 * @param usageIsNull    the usage member's value is the literal {@code null}
 * @param choices        the number of elements of the top-level "choices" array, or -1 if there is none
 * @param content        some choice carries generated output (see {@link UsageMeter})
 * @param nameStart      offset of the usage member's name (its opening quote), or -1
 * @param valueStart     offset of the usage member's value
 * @param valueEnd       offset just past the usage member's value
 * @param prevValueEnd   offset just past the previous member's value, or -1 if usage is the first member
 * @param nextNameStart  offset of the next member's name, or -1 if usage is the last member
 */
record EventJson(TokenUsage usage, int usageMembers, boolean usageIsNull, int choices, boolean content,
                 int nameStart, int valueStart, int valueEnd, int prevValueEnd, int nextNameStart) {

  private static final JsonFactory FACTORY = new JsonFactory();

  /**
   * Reads the JSON object in {@code b[from, to)}, offsets relative to {@code from}; null when the payload is anything
   * else (an array, a scalar, trailing tokens, not JSON). {@link ChunkScanner} reads it unless it is unusual.
   */
  static EventJson scan(byte[] b, int from, int to) throws IOException {
    try {
      return ChunkScanner.scan(b, from, to);
    } catch (ChunkScanner.Unusual unusual) {
      return jackson(Arrays.copyOfRange(b, from, to));
    }
  }

  /** {@link #scan} with Jackson's streaming parser: for what {@link ChunkScanner} leaves to it, and its tests' reference. */
  static EventJson jackson(byte[] json) throws IOException {
    try (JsonParser p = FACTORY.createParser(json)) {
      if (p.nextToken() != JsonToken.START_OBJECT) return null;
      TokenUsage usage = null;
      int usageMembers = 0;
      boolean usageIsNull = false;
      int choices = -1;
      boolean content = false;
      int nameStart = -1;
      int valueStart = -1;
      int valueEnd = -1;
      int prevValueEnd = -1;
      int nextNameStart = -1;
      int lastValueEnd = -1;
      boolean afterUsage = false;
      JsonToken t;
      while ((t = p.nextToken()) == JsonToken.FIELD_NAME) {
        int memberStart = offset(p.currentTokenLocation().getByteOffset());
        if (afterUsage) {
          nextNameStart = memberStart;
          afterUsage = false;
        }
        String name = p.currentName();
        JsonToken value = p.nextToken();
        int start = offset(p.currentTokenLocation().getByteOffset());
        if (name.equals("usage")) {
          usageMembers++;
          usageIsNull = value == JsonToken.VALUE_NULL;
          usage = value == JsonToken.START_OBJECT ? readUsage(p) : skipped(p);
        } else if (name.equals("choices") && value == JsonToken.START_ARRAY) {
          choices = 0;
          while (p.nextToken() != JsonToken.END_ARRAY) {
            choices++;
            content |= p.currentToken() == JsonToken.START_OBJECT ? choiceHasContent(p) : skip(p);
          }
        } else {
          p.skipChildren();
        }
        p.finishToken();                 // a string value is read lazily: consume it so the location is past it
        int end = offset(p.currentLocation().getByteOffset());
        if (name.equals("usage")) {
          nameStart = memberStart;
          valueStart = start;
          valueEnd = end;
          prevValueEnd = lastValueEnd;
          nextNameStart = -1;
          afterUsage = true;
        }
        lastValueEnd = end;
      }
      if (t != JsonToken.END_OBJECT || p.nextToken() != null) return null;
      return new EventJson(usage, usageMembers, usageIsNull, choices, content,
          nameStart, valueStart, valueEnd, prevValueEnd, nextNameStart);
    }
  }

  /** prompt_tokens and completion_tokens of a usage object (embeddings have no completion_tokens: 0). */
  private static TokenUsage readUsage(JsonParser p) throws IOException {
    long prompt = -1;
    long completion = 0;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      if (field.equals("prompt_tokens")) prompt = count(p, value);
      else if (field.equals("completion_tokens")) completion = count(p, value);
      p.skipChildren();                                  // a structure where a count belongs
    }
    return prompt >= 0 && completion >= 0 ? new TokenUsage(prompt, completion) : null;
  }

  /** A non-negative integer that fits a long, else -1. */
  static long count(JsonParser p, JsonToken value) throws IOException {
    if (value != JsonToken.VALUE_NUMBER_INT || p.getNumberType() == JsonParser.NumberType.BIG_INTEGER) return -1;
    long n = p.getLongValue();
    return n >= 0 ? n : -1;
  }

  /** A choice object: chat's delta content, reasoning or tool calls, or a text completion's text. */
  private static boolean choiceHasContent(JsonParser p) throws IOException {
    boolean content = false;
    while (p.nextToken() == JsonToken.FIELD_NAME) {
      String field = p.currentName();
      JsonToken value = p.nextToken();
      if (field.equals("delta") && value == JsonToken.START_OBJECT) {
        while (p.nextToken() == JsonToken.FIELD_NAME) {
          String part = p.currentName();
          JsonToken v = p.nextToken();
          if (part.equals("content") || part.equals("reasoning_content") || part.equals("reasoning")) {
            content |= nonEmptyString(p, v);
          } else if (part.equals("tool_calls") && v == JsonToken.START_ARRAY) {
            content |= nonEmptyArray(p);
          } else {
            p.skipChildren();
          }
        }
      } else if (field.equals("text")) {
        content |= nonEmptyString(p, value);
      } else {
        p.skipChildren();
      }
    }
    return content;
  }

  private static boolean nonEmptyString(JsonParser p, JsonToken value) throws IOException {
    if (value == JsonToken.VALUE_STRING) return p.getTextLength() > 0;
    p.skipChildren();
    return false;
  }

  private static TokenUsage skipped(JsonParser p) throws IOException {
    p.skipChildren();
    return null;
  }

  /** Consumes an array whose START_ARRAY is the current token. */
  private static boolean nonEmptyArray(JsonParser p) throws IOException {
    boolean any = false;
    while (p.nextToken() != JsonToken.END_ARRAY) {
      any = true;
      p.skipChildren();
    }
    return any;
  }

  private static boolean skip(JsonParser p) throws IOException {
    p.skipChildren();
    return false;
  }

  private static int offset(long byteOffset) {
    if (byteOffset < 0 || byteOffset > Integer.MAX_VALUE) throw new IllegalStateException("no byte offset: " + byteOffset);
    return (int) byteOffset;
  }
}
