package sluice.agent;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import sluice.agent.wire.WireJson;

/**
 * The end of a job's output file, as the logs call returns it. Job output can be gigabytes and is still being written,
 * so only the last {@link #WINDOW_BYTES} are read. The job's secret is masked before anything else happens to the
 * text, so no later cut (line limit, reply size) can leave a piece of it behind.
 */
public final class LogTail {
  /** Bytes read from the end of the file, whatever its size. */
  public static final int WINDOW_BYTES = 64 * 1024;
  /** Longer lines are cut to this many characters (UTF-16 units, never half a surrogate pair). */
  public static final int MAX_LINE_CHARS = 1000;
  public static final String MASK = "***";
  /**
   * A job that is writing its secret right now may have written only its start (stdio flushes in blocks); such a
   * prefix at the very end of the file is masked too, from this many characters on. Shorter ones say too little to
   * matter and would mask ordinary text.
   */
  static final int MIN_PARTIAL_SECRET = 8;

  private LogTail() {}

  /**
   * @param truncated whether anything of the file is missing from {@code lines}: earlier output, or line ends
   */
  public record Tail(List<String> lines, boolean truncated) {
    public Tail { lines = List.copyOf(lines); }
  }

  /**
   * Reads the last at most {@code maxLines} lines of {@code file}. A file that does not exist (yet: the job is pending)
   * is an empty tail. Invalid UTF-8 becomes U+FFFD.
   *
   * @param secret       replaced by {@link #MASK} wherever it occurs
   * @param maxJsonBytes the lines, encoded as a JSON array, fit in this many bytes; the oldest are dropped first
   */
  public static Tail read(Path file, int maxLines, Optional<String> secret, int maxJsonBytes) throws IOException {
    if (!Files.exists(file, LinkOption.NOFOLLOW_LINKS)) return new Tail(List.of(), false);
    // A FIFO would block the reader forever, and a link could point anywhere: only the job's own plain file is read.
    if (!Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) throw new IOException("not a regular file");
    byte[] window;
    long from;
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
      long size = ch.size();
      from = Math.max(0, size - WINDOW_BYTES);
      ByteBuffer buf = ByteBuffer.allocate((int) (size - from));
      while (buf.hasRemaining()) {
        if (ch.read(buf, from + buf.position()) < 0) break;      // the file shrank under us: take what is there
      }
      window = Arrays.copyOf(buf.array(), buf.position());
    } catch (NoSuchFileException e) {
      return new Tail(List.of(), false);
    }
    return tail(window, from > 0, maxLines, secret, maxJsonBytes);
  }

  /** The pure part of {@link #read}: {@code cutAtStart} says the window does not begin at the start of the file. */
  static Tail tail(byte[] window, boolean cutAtStart, int maxLines, Optional<String> secret, int maxJsonBytes) {
    int start = 0;
    if (cutAtStart) {
      // The window most likely begins inside a line (or inside a UTF-8 sequence, or inside the secret): drop that
      // fragment. Without any newline the whole window is one fragment.
      while (start < window.length && window[start] != '\n') start++;
      start = Math.min(window.length, start + 1);
    }
    String text = new String(window, start, window.length - start, StandardCharsets.UTF_8);
    Optional<String> s = secret.filter(t -> !t.isEmpty());
    if (s.isPresent()) text = mask(text, s.get());

    List<String> all = text.lines().toList();
    boolean truncated = cutAtStart || all.size() > maxLines;
    List<String> last = all.subList(Math.max(0, all.size() - maxLines), all.size());

    List<String> cut = new ArrayList<>(last.size());
    for (String line : last) {
      if (line.length() > MAX_LINE_CHARS) {
        int end = Character.isHighSurrogate(line.charAt(MAX_LINE_CHARS - 1)) ? MAX_LINE_CHARS - 1 : MAX_LINE_CHARS;
        line = line.substring(0, end);
        truncated = true;
      }
      cut.add(line);
    }

    // The newest lines matter most: keep as many of them as fit, counting each one's encoded size plus a comma.
    int budget = maxJsonBytes - 2;                                   // [ and ]
    int keepFrom = cut.size();
    while (keepFrom > 0) {
      int size = WireJson.bytes(cut.get(keepFrom - 1)).length + (keepFrom == cut.size() ? 0 : 1);
      if (size > budget) break;
      budget -= size;
      keepFrom--;
    }
    if (keepFrom > 0) truncated = true;
    return new Tail(cut.subList(keepFrom, cut.size()), truncated);
  }

  /** Every occurrence of the secret, and a start of it that ends the text (the job is writing it right now). */
  static String mask(String text, String secret) {
    String masked = text.replace(secret, MASK);
    for (int k = secret.length() - 1; k >= MIN_PARTIAL_SECRET; k--) {
      if (masked.endsWith(secret.substring(0, k))) return masked.substring(0, masked.length() - k) + MASK;
    }
    return masked;
  }
}
