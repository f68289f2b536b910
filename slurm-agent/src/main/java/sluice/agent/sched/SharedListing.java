package sluice.agent.sched;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Optional;
import java.util.UUID;
import java.util.logging.Logger;
import sluice.agent.wire.WireJson;

/**
 * The last squeue listing of any agent process on the login node, in {@code <state-dir>/squeue-listing.json}: each SSH
 * channel runs its own agent process, and without sharing each would run its own squeue for the same answer. The file
 * holds what squeue printed about the agent's jobs and their ports, never a job's secret; it is written owner-only
 * to a temp name and renamed, so readers see a whole file. It is only ever a cache: a missing, unreadable or corrupt
 * file means "run squeue".
 *
 * <p>A submit or cancel writes a new random generation to {@code squeue-listing.stale}. A listing carries the
 * generation read before its squeue started and serves only while that is still the current one: a listing taken
 * before a cancel, even one another process writes afterwards, never reports the cancelled job as running. Clocks are
 * not compared, so two events in the same instant cannot be mistaken for ordered ones.
 */
final class SharedListing {
  private static final Logger LOG = Logger.getLogger(SharedListing.class.getName());

  private final Path dir;
  private final Path file;
  private final Path staleMark;

  SharedListing(Path stateDir) {
    this.dir = stateDir;
    this.file = stateDir.resolve("squeue-listing.json");
    this.staleMark = stateDir.resolve("squeue-listing.stale");
  }

  Path file() { return file; }

  /** The current generation, to be read before squeue starts; empty when the mark cannot be read. */
  Optional<String> generation() {
    try {
      return Optional.of(Files.readString(staleMark, StandardCharsets.UTF_8).strip());
    } catch (NoSuchFileException e) {
      return Optional.of("");                                  // nothing submitted or cancelled yet
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "unreadable " + staleMark + ": " + e.getMessage());
      return Optional.empty();
    }
  }

  /** Best effort: a listing that cannot be shared only costs the other processes a squeue of their own. */
  void write(JobListing listing) {
    if (listing.generation() == null) return;
    try {
      AtomicFiles.replace(file, WireJson.bytes(listing));
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "cannot write " + file + ": " + e.getMessage());
    }
  }

  /**
   * The shared listing when there is a whole one of the current generation, not from the future (a clock that
   * stepped back, or a corrupt time).
   */
  Optional<JobListing> read(Instant now) {
    Optional<String> current = generation();
    if (current.isEmpty()) return Optional.empty();
    JobListing stored;
    try {
      stored = WireJson.MAPPER.readValue(file.toFile(), JobListing.class);
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      return Optional.empty();
    } catch (IOException | RuntimeException e) {
      LOG.fine(() -> "ignoring unreadable " + file + ": " + e.getMessage());
      return Optional.empty();
    }
    if (stored == null || !current.get().equals(stored.generation()) || stored.at().isAfter(now)) return Optional.empty();
    return Optional.of(stored);
  }

  /** After a submit or cancel: listings taken before now no longer serve, whoever writes them. */
  void markStale() {
    try {
      AtomicFiles.replace(staleMark, UUID.randomUUID().toString().getBytes(StandardCharsets.UTF_8));
    } catch (IOException e) {
      LOG.warning(() -> "cannot write " + staleMark + " (" + e.getMessage() + "); removing the shared listing instead");
      try {
        Files.deleteIfExists(file);
      } catch (IOException e2) {
        LOG.warning(() -> "cannot delete " + file + ": " + e2.getMessage());
      }
    }
  }
}
