package sluice.agent.sched;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.locks.ReentrantLock;

/**
 * Serialises submissions across every agent process on the host (a file lock: each SSH channel is its own agent) and
 * across the threads of one process: {@link FileChannel#lock()} throws {@code OverlappingFileLockException} when
 * another thread of the same JVM holds it, so threads queue on a JVM lock first.
 */
final class SubmitLock {
  private static final Map<Path, ReentrantLock> JVM_LOCKS = new ConcurrentHashMap<>();

  private SubmitLock() {}

  interface Body<T> {
    T run() throws Scheduler.SchedulerException, IOException;
  }

  static <T> T holding(Path lockFile, Body<T> body) throws Scheduler.SchedulerException {
    ReentrantLock jvmLock = JVM_LOCKS.computeIfAbsent(lockFile.toAbsolutePath(), p -> new ReentrantLock());
    jvmLock.lock();
    try (FileChannel ch = FileChannel.open(lockFile, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
         FileLock ignored = ch.lock()) {
      return body.run();
    } catch (IOException e) {
      throw new Scheduler.SchedulerException("cannot submit under " + lockFile + ": " + e.getMessage(), e);
    } finally {
      jvmLock.unlock();
    }
  }
}
