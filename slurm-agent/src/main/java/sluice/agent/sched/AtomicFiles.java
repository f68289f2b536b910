package sluice.agent.sched;

import java.io.IOException;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;

/** Files other agent processes on the login node read while this one writes them. */
final class AtomicFiles {
  private AtomicFiles() {}

  /**
   * Writes {@code content} to a temp file beside {@code target} (owner-only, as createTempFile makes it) and renames it
   * into place: readers see the old or the new file, never half of one.
   */
  static void replace(Path target, byte[] content) throws IOException {
    Path tmp = Files.createTempFile(target.getParent(), "." + target.getFileName() + "-", ".tmp");
    try {
      Files.write(tmp, content);
      try {
        Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }
}
