package sluice.edge.usage;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import com.fasterxml.jackson.core.async.ByteArrayFeeder;
import java.io.IOException;

/**
 * Finds the top-level {@code "usage"} of a JSON response body fed in pieces, keeping no more than the token being
 * read: Jackson's non-blocking parser sees each piece once and this class keeps only a depth and two numbers. A body
 * that is not JSON, or breaks off, simply stops the scan; so does a single string longer than Jackson's default
 * limit of 20,000,000 characters (the body still passes, without usage). One instance per body; not thread-safe.
 */
final class JsonBodyScanner {
  private static final JsonFactory FACTORY = new JsonFactory();

  private final JsonParser parser;
  private final ByteArrayFeeder feeder;
  private boolean stopped;
  private boolean rootClosed;
  private boolean rootIsObject;
  private int depth;
  private String topField;
  private boolean inUsage;
  private String usageField;
  private long prompt;
  private long completion;
  private TokenUsage usage;

  JsonBodyScanner() {
    try {
      parser = FACTORY.createNonBlockingByteArrayParser();
    } catch (IOException e) {
      throw new IllegalStateException("Jackson cannot create a non-blocking parser", e);
    }
    feeder = (ByteArrayFeeder) parser.getNonBlockingInputFeeder();
  }

  /** The last complete top-level usage object seen, or null. */
  TokenUsage usage() {
    return usage;
  }

  /** The root value ended (so the body was whole, whatever follows it). */
  boolean rootClosed() {
    return rootClosed;
  }

  /** Feeds the next piece; the array must not change afterwards until the next call. */
  void feed(byte[] bytes, int from, int to) {
    if (stopped || from == to) return;
    try {
      feeder.feedInput(bytes, from, to);
      drain();
    } catch (IOException | RuntimeException notJson) {
      stopped = true;
    }
  }

  void end() {
    if (stopped) return;
    stopped = true;
    try {
      feeder.endOfInput();
      parser.close();
    } catch (IOException | RuntimeException ignored) {
      // a truncated body: what was captured stands
    }
  }

  private void drain() throws IOException {
    JsonToken t;
    while (!stopped && (t = parser.nextToken()) != null && t != JsonToken.NOT_AVAILABLE) {
      step(t);
    }
  }

  private void step(JsonToken t) throws IOException {
    switch (t) {
      case START_OBJECT, START_ARRAY -> {
        if (depth == 0) rootIsObject = t == JsonToken.START_OBJECT;
        if (depth == 1 && rootIsObject && t == JsonToken.START_OBJECT && "usage".equals(topField)) {
          inUsage = true;
          usageField = null;
          prompt = -1;
          completion = 0;
        }
        depth++;
      }
      case END_OBJECT, END_ARRAY -> {
        depth--;
        if (depth == 1 && inUsage) {
          inUsage = false;
          if (prompt >= 0 && completion >= 0) usage = new TokenUsage(prompt, completion);
        }
        if (depth == 0) closeRoot();
      }
      case FIELD_NAME -> {
        if (depth == 1) topField = parser.currentName();
        else if (depth == 2 && inUsage) usageField = parser.currentName();
      }
      default -> {                                            // a scalar
        if (depth == 0) closeRoot();
        else if (depth == 2 && inUsage && "prompt_tokens".equals(usageField)) prompt = EventJson.count(parser, t);
        else if (depth == 2 && inUsage && "completion_tokens".equals(usageField)) completion = EventJson.count(parser, t);
      }
    }
  }

  private void closeRoot() {
    rootClosed = true;
    stopped = true;
  }
}
