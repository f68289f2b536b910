package sluice.bench;

import java.nio.charset.StandardCharsets;

/**
 * What the streaming scenarios share: the request body, a stream's outcome, and the reading of a body's last bytes.
 * The streams themselves go through {@link SseConnection} (one blocking connection) or {@link SseCrowd} (thousands on
 * one selector thread), both decoding with {@link SseDecoder}.
 */
final class StreamLoad {
  private StreamLoad() {}

  /**
   * How one stream went. Times are System.nanoTime(); firstByte is 0 when no body byte came.
   *
   * @param done the body ended with {@code data: [DONE]}
   */
  record Outcome(int status, long sent, long firstByte, long end, long events, boolean done, String error) {
    boolean ok() {
      return error == null;
    }

    double firstByteMs() {
      return (firstByte - sent) / 1e6;
    }

    double seconds() {
      return (end - sent) / 1e9;
    }
  }

  /** The body of a streaming chat completion of {@code tokens} tokens; {@code delayMs} ≥ 0 sets mock_token_delay_ms. */
  static String body(String model, int tokens, int delayMs) {
    return "{\"model\":\"" + model + "\",\"stream\":true,\"max_tokens\":" + tokens
        + (delayMs >= 0 ? ",\"mock_token_delay_ms\":" + delayMs : "")
        + ",\"messages\":[{\"role\":\"user\",\"content\":\"Stream something.\"}]}";
  }

  /** How many of a body's last bytes are kept: enough for an in-band error event. */
  static final int TAIL = 320;

  static boolean endsWithDone(byte[] tail) {
    byte[] done = "data: [DONE]\n\n".getBytes(StandardCharsets.US_ASCII);
    return java.util.Arrays.equals(tail, tail.length - done.length, tail.length, done, 0, done.length);
  }

  /** "; last: <the last event>" from a body's kept last bytes ({@code seen} bytes in all), for a stream cut short. */
  static String lastEvent(byte[] tail, long seen) {
    int have = (int) Math.min(seen, tail.length);
    String text = new String(tail, tail.length - have, have, StandardCharsets.UTF_8).stripTrailing();
    int start = text.lastIndexOf("\n\n");
    String last = (start >= 0 ? text.substring(start + 2) : text).replace('\n', ' ').trim();
    if (last.isEmpty()) return "";
    return "; last: " + (last.length() > 200 ? last.substring(last.length() - 200) : last);
  }
}
