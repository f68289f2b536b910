package sluice.persistence;

import com.typesafe.config.Config;
import java.io.IOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.Set;
import java.util.stream.Stream;

/**
 * The embedded database's folder ({@code sluice.data-dir}), checked before anything starts: it must exist (it is
 * made), be writable, and keep its files to their owner. A gateway on a folder it cannot write would open H2
 * read-only and look ready while failing every request, so it refuses to start instead.
 */
public final class DataFolder {
  private static final Set<PosixFilePermission> OWNER_DIR = PosixFilePermissions.fromString("rwx------");
  private static final Set<PosixFilePermission> OWNER_FILE = PosixFilePermissions.fromString("rw-------");

  private DataFolder() {}

  /** Thrown when the folder cannot be used; the message says which folder and why. */
  public static final class Unusable extends Exception {
    Unusable(String message, Throwable cause) { super(message, cause); }
  }

  /** Checks and prepares the folder when the journal is an embedded H2 file; does nothing for a database server. */
  public static void prepare(Config root) throws Unusable {
    if (embedded(root).isPresent()) prepare(embedded(root).get());
  }

  /** The data folder when the journal is an embedded H2 file in it; empty for a database server. */
  public static Optional<Path> embedded(Config root) {
    String url = root.getString("pekko-persistence-jdbc.shared-databases.slick.db.url");
    if (!url.startsWith("jdbc:h2:file:")) return Optional.empty();
    return Optional.of(Path.of(root.getString("sluice.data-dir")).toAbsolutePath().normalize());
  }

  /**
   * Fails when the file system of {@code dir} has less than {@code minFree} bytes left for the gateway's user: the
   * gateway stops writing before the disk is full, because H2 closes itself on a failed write (docs/operations.md).
   */
  public static void requireFreeSpace(Path dir, long minFree) throws IOException {
    long free = Files.getFileStore(dir).getUsableSpace();
    if (free < minFree) {
      throw new IOException("only " + mib(free) + " free in " + dir + " (sluice.storage.min-free-space = " + mib(minFree) + ")");
    }
  }

  private static String mib(long bytes) { return String.format(java.util.Locale.ROOT, "%.1f MiB", bytes / 1048576.0); }

  /** Makes {@code dir} (owner-only) if missing, proves it writable with a file, and takes group and other rights from its files. */
  public static void prepare(Path dir) throws Unusable {
    try {
      if (!Files.isDirectory(dir)) {
        Files.createDirectories(dir);
        setPermissions(dir, OWNER_DIR);
      }
      Path probe = Files.createTempFile(dir, ".write-check", ".tmp");
      Files.delete(probe);
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          if (Files.isRegularFile(f) && f.getFileName().toString().startsWith("sluice.")) {
            if (!Files.isWritable(f)) throw new IOException(f + " is not writable");
            setPermissions(f, OWNER_FILE);
          }
        }
      }
    } catch (IOException e) {
      String why = e instanceof FileSystemException fs && fs.getReason() != null ? fs.getReason() : e.getMessage();
      throw new Unusable("the data folder " + dir + " (sluice.data-dir, SLUICE_DATA_DIR) is not writable: " + why
          + ". Sluice keeps its journal and usage records there; give the gateway's user a writable folder.", e);
    }
  }

  private static void setPermissions(Path p, Set<PosixFilePermission> perms) throws IOException {
    try {
      Files.setPosixFilePermissions(p, perms);
    } catch (UnsupportedOperationException notPosix) {
      // not a POSIX file system: its own defaults apply
    }
  }
}
