package sluice.bridge;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Drains an agent's stderr into the gateway's log and keeps its last lines, so a failed handshake can say what the
 * agent said (a refused command, a bad config). Draining matters over SSH too: stdout and stderr share one window.
 */
public final class StderrTail {
  private static final Logger LOG = LoggerFactory.getLogger(StderrTail.class);
  private static final int LINES = 3;
  private static final int LINE_CHARS = 300;

  private final Deque<String> lines = new ArrayDeque<>();
  private final Thread reader;

  private StderrTail(InputStream err, String name) {
    reader = new Thread(() -> {
      try (BufferedReader r = new BufferedReader(new InputStreamReader(err, StandardCharsets.UTF_8))) {
        for (String line; (line = r.readLine()) != null; ) {
          LOG.warn("agent[{}]: {}", name, line);
          add(line);
        }
      } catch (IOException e) {
        LOG.debug("stderr of {} closed: {}", name, e.getMessage());
      }
    }, "agent-stderr-" + name);
    reader.setDaemon(true);
  }

  public static StderrTail start(InputStream err, String name) {
    StderrTail tail = new StderrTail(err, name);
    tail.reader.start();
    return tail;
  }

  private synchronized void add(String line) {
    lines.addLast(line.length() > LINE_CHARS ? line.substring(0, LINE_CHARS) : line);
    while (lines.size() > LINES) lines.removeFirst();
  }

  /** The last lines, after waiting up to {@code wait} for the stream to end (an agent usually says why, then exits). */
  public String tail(Duration wait) {
    try {
      reader.join(wait.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    synchronized (this) {
      return String.join(" | ", lines);
    }
  }

  /** {@code message}, with what the agent said appended when it said anything. */
  public String explain(String message, Duration wait) {
    String t = tail(wait);
    return t.isEmpty() ? message : message + " (agent said: " + t + ")";
  }
}
