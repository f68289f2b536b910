package sluice.persistence;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataFolderTest {
  @TempDir Path tmp;

  @Test void aMissingFolderIsMadeForItsOwnerOnly() throws Exception {
    Path dir = tmp.resolve("a/data");
    DataFolder.prepare(dir);
    assertTrue(Files.isDirectory(dir));
    assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    try (var files = Files.list(dir)) {
      assertEquals(0, files.count(), "the write check leaves nothing behind");
    }
  }

  @Test void theDatabaseFilesLoseGroupAndOtherRights() throws Exception {
    Path db = Files.writeString(tmp.resolve("sluice.mv.db"), "x");
    Path other = Files.writeString(tmp.resolve("notes.txt"), "x");
    Files.setPosixFilePermissions(db, PosixFilePermissions.fromString("rw-r--r--"));
    Files.setPosixFilePermissions(other, PosixFilePermissions.fromString("rw-r--r--"));
    DataFolder.prepare(tmp);
    assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(db)));
    assertEquals("rw-r--r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(other)), "not ours: untouched");
  }

  @Test void aFolderThatCannotBeMadeIsRefusedNamingIt() throws Exception {
    Path file = Files.writeString(tmp.resolve("plain-file"), "x");
    var e = assertThrows(DataFolder.Unusable.class, () -> DataFolder.prepare(file.resolve("data")));
    assertTrue(e.getMessage().startsWith("the data folder " + file.resolve("data") + " (sluice.data-dir, SLUICE_DATA_DIR) is not writable"),
        e.getMessage());
  }

  @Test void lessFreeSpaceThanTheReserveFailsNamingTheFolderAndTheSetting() throws Exception {
    DataFolder.requireFreeSpace(tmp, 0);
    var e = assertThrows(java.io.IOException.class, () -> DataFolder.requireFreeSpace(tmp, Long.MAX_VALUE));
    assertTrue(e.getMessage().startsWith("only ") && e.getMessage().contains(" free in " + tmp + " (sluice.storage.min-free-space = "),
        e.getMessage());
  }
}
