package sluice.edge.http;

import java.util.UUID;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Ids the gateway makes for every request (its request id, lease id and admission id): unique, not secret. They come
 * from the thread's own generator, not {@link UUID#randomUUID()}, whose one SecureRandom is shared by every thread
 * (three calls per request on the hot path; the saving was not measured on its own).
 */
final class RequestIds {
  private RequestIds() {}

  /** A random version-4 UUID in the usual text form. */
  static String next() {
    ThreadLocalRandom r = ThreadLocalRandom.current();
    long hi = (r.nextLong() & ~0xF000L) | 0x4000L;                          // version 4
    long lo = (r.nextLong() & 0x3FFFFFFFFFFFFFFFL) | 0x8000000000000000L;   // IETF variant
    return new UUID(hi, lo).toString();
  }
}
