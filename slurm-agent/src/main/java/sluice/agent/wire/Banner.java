package sluice.agent.wire;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * The line the agent prints before its first frame. Login shells on HPC systems often print to stdout from rc files
 * (module banners, conda init); the client skips such noise, up to a bound, until it sees this exact line.
 */
public final class Banner {
  private Banner() {}

  public static final String TEXT = "SLUICE-AGENT mux/1\n";
  private static final byte[] BYTES = TEXT.getBytes(StandardCharsets.US_ASCII);

  public static void write(OutputStream out) throws IOException {
    out.write(BYTES);
    out.flush();
  }

  /**
   * Consumes input up to and including the banner and returns the noise that preceded it (for diagnostics).
   * Fails when the input ends first or more than {@code maxNoise} bytes of noise arrive. Reads byte by byte, so
   * nothing after the banner is consumed: pass a buffered stream.
   */
  public static String skipTo(InputStream in, int maxNoise) throws IOException {
    ByteArrayOutputStream noise = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < BYTES.length) {
      int b = in.read();
      if (b < 0) throw new ProtocolException("agent output ended before its banner" + describe(noise));
      if (b == BYTES[matched]) {
        matched++;
        continue;
      }
      // Restart the match; the banner has no repeated prefix, so only its first byte can begin a new match.
      noise.write(BYTES, 0, matched);
      matched = b == BYTES[0] ? 1 : 0;
      if (matched == 0) noise.write(b);
      if (noise.size() > maxNoise) throw new ProtocolException("no agent banner within " + maxNoise + " bytes" + describe(noise));
    }
    return noise.toString(StandardCharsets.UTF_8);
  }

  private static String describe(ByteArrayOutputStream noise) {
    if (noise.size() == 0) return "";
    String s = noise.toString(StandardCharsets.UTF_8).strip();
    return "; it printed: " + (s.length() > 200 ? s.substring(0, 200) + "…" : s);
  }
}
