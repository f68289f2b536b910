package sluice.agent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import sluice.agent.LogTail.Tail;
import sluice.agent.wire.WireJson;

/** What the logs call makes of a job's output file: the tail, the cuts, the masked secret. */
@Timeout(30)
class LogTailTest {
  private static final String SECRET = "0123456789abcdef0123456789abcdef0123456789abcdef";
  private static final int BIG = 1 << 20;
  @TempDir Path dir;

  private static Tail tail(String text, int maxLines) {
    return LogTail.tail(text.getBytes(StandardCharsets.UTF_8), false, maxLines, Optional.of(SECRET), BIG);
  }

  @Test void lastLinesOldestFirst() {
    assertEquals(new Tail(List.of("c", "", "d"), true), tail("a\nb\nc\n\nd\n", 3));
    assertEquals(new Tail(List.of("a", "b"), false), tail("a\r\nb", 5), "CRLF, and an unterminated last line");
    assertEquals(new Tail(List.of("10%", "20%"), false), tail("10%\r20%", 5), "progress bars redraw with CR");
    assertEquals(new Tail(List.of(), false), tail("", 5));
  }

  @Test void theSecretIsMaskedEverywhereEvenAcrossTheLineCut() {
    Tail t = tail("token=" + SECRET + " twice " + SECRET + "\nend\n", 10);
    assertEquals(List.of("token=*** twice ***", "end"), t.lines());
    // The secret straddles the 1,000-character cut: masked first, so no part of it survives the cut.
    String line = "x".repeat(LogTail.MAX_LINE_CHARS - 10) + SECRET + "y".repeat(100);
    Tail cut = tail(line + "\n", 10);
    assertEquals("x".repeat(LogTail.MAX_LINE_CHARS - 10) + "***" + "y".repeat(7), cut.lines().get(0));
    assertTrue(cut.truncated());
  }

  @Test void aSecretBeingWrittenIsMaskedFromItsFirstCharacters() {
    assertEquals(List.of("token=***"), tail("token=" + SECRET.substring(0, 20), 5).lines());
    assertEquals(List.of("ok " + SECRET.substring(0, LogTail.MIN_PARTIAL_SECRET - 1)),
        tail("ok " + SECRET.substring(0, LogTail.MIN_PARTIAL_SECRET - 1), 5).lines(), "too short to mean anything");
  }

  @Test void longLinesAreCutWithoutSplittingACharacter() {
    assertEquals(LogTail.MAX_LINE_CHARS, tail("z".repeat(5000), 1).lines().get(0).length());
    String emoji = "\uD83D\uDE00";
    String text = "a".repeat(LogTail.MAX_LINE_CHARS - 1) + emoji + "b";
    String got = tail(text, 1).lines().get(0);
    assertEquals("a".repeat(LogTail.MAX_LINE_CHARS - 1), got, "the pair would straddle the cut: it goes whole");
  }

  @Test void invalidUtf8IsReplaced() {
    byte[] bytes = {'o', 'k', (byte) 0xC3, '\n', (byte) 0xFF, (byte) 0xFE, 'x', '\n'};
    assertEquals(List.of("ok\uFFFD", "\uFFFD\uFFFDx"), LogTail.tail(bytes, false, 5, Optional.empty(), BIG).lines());
  }

  @Test void aWindowThatStartsInsideTheFileDropsItsFirstFragment() {
    byte[] bytes = ("5c" + SECRET.substring(24) + " rest of a line\nwhole line\n").getBytes(StandardCharsets.UTF_8);
    Tail t = LogTail.tail(bytes, true, 10, Optional.of(SECRET), BIG);
    assertEquals(new Tail(List.of("whole line"), true), t, "half a secret at the window's start never shows");
    assertEquals(new Tail(List.of(), true), LogTail.tail("no newline at all".getBytes(StandardCharsets.UTF_8), true, 5,
        Optional.empty(), BIG));
  }

  @Test void theNewestLinesThatFitTheReplyHeadAreKept() {
    String text = "first line\n" + "y".repeat(900) + "\nlast\n";
    int fits = WireJson.bytes(List.of("y".repeat(900), "last")).length;
    assertEquals(new Tail(List.of("y".repeat(900), "last"), true),
        LogTail.tail(text.getBytes(StandardCharsets.UTF_8), false, 10, Optional.empty(), fits));
    assertEquals(new Tail(List.of("last"), true),
        LogTail.tail(text.getBytes(StandardCharsets.UTF_8), false, 10, Optional.empty(), fits - 1));
    // Escapes count: 100 control characters are 600 bytes of JSON.
    String controls = "\u0001".repeat(100);
    assertEquals(List.of(), LogTail.tail(controls.getBytes(StandardCharsets.UTF_8), false, 1, Optional.empty(), 500).lines());
  }

  @Test void aMultiGigabyteFileCostsOnlyItsLast64KiB() throws IOException {
    Path log = dir.resolve("huge.out");
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "rw")) {
      f.setLength(3L << 30);                                  // sparse: 3 GiB of zeros on no disk
      f.seek(3L << 30);
      f.write(("gap ends\nthe line before\nloaded " + SECRET + "\nready\n").getBytes(StandardCharsets.UTF_8));
    }
    long t0 = System.nanoTime();
    Tail t = LogTail.read(log, 50, Optional.of(SECRET), BIG);
    long millis = (System.nanoTime() - t0) / 1_000_000;
    assertEquals(new Tail(List.of("the line before", "loaded ***", "ready"), true), t);
    assertTrue(millis < 5_000, "read " + millis + " ms");
  }

  @Test void aMissingFileIsAnEmptyTail() throws IOException {
    assertEquals(new Tail(List.of(), false), LogTail.read(dir.resolve("not-yet.out"), 50, Optional.empty(), BIG));
  }

  @Test void linksAndSpecialFilesAreNotRead() throws Exception {
    Path target = Files.writeString(dir.resolve("elsewhere"), "private\n");
    Path link = Files.createSymbolicLink(dir.resolve("link.out"), target);
    assertThrows(IOException.class, () -> LogTail.read(link, 50, Optional.empty(), BIG));
    Path fifo = dir.resolve("fifo.out");
    Process mk = new ProcessBuilder("mkfifo", fifo.toString()).start();
    assertEquals(0, mk.waitFor());
    assertThrows(IOException.class, () -> LogTail.read(fifo, 50, Optional.empty(), BIG), "would block forever");
    assertFalse(Files.isRegularFile(fifo));
  }
}
