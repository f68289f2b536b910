package sluice.edge.http;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import sluice.core.user.RateInfo;

/**
 * The {@code x-ratelimit-*} headers of a response, as OpenAI sends them ({@code x-ratelimit-limit-requests},
 * {@code -remaining-requests}, {@code -reset-requests} and the same for tokens, describing the window closest to its
 * limit) plus one set per window ({@code x-ratelimit-remaining-requests-minute}, ...), because Sluice enforces several
 * windows at once and a client should see each.
 */
public final class RateHeaders {
  private RateHeaders() {}

  public static List<HttpHeader> of(RateInfo rate, Instant now) {
    if (rate == null) return List.of();
    List<HttpHeader> h = new ArrayList<>();
    add(h, "requests", rate.requests(), now);
    add(h, "tokens", rate.tokens(), now);
    if (rate.concurrentLimit() != null) {
      h.add(RawHeader.create("x-ratelimit-limit-concurrent", Integer.toString(rate.concurrentLimit())));
      h.add(RawHeader.create("x-ratelimit-remaining-concurrent",
          Integer.toString(Math.max(0, rate.concurrentLimit() - rate.inFlight()))));
    }
    return h;
  }

  private static void add(List<HttpHeader> h, String kind, List<RateInfo.WindowState> windows, Instant now) {
    if (windows.isEmpty()) return;
    RateInfo.WindowState tightest = windows.stream()
        .min(Comparator.comparingLong(RateInfo.WindowState::remaining).thenComparing(RateInfo.WindowState::resetAt))
        .orElseThrow();
    h.add(RawHeader.create("x-ratelimit-limit-" + kind, Long.toString(tightest.limit())));
    h.add(RawHeader.create("x-ratelimit-remaining-" + kind, Long.toString(tightest.remaining())));
    h.add(RawHeader.create("x-ratelimit-reset-" + kind, duration(Duration.between(now, tightest.resetAt()))));
    for (RateInfo.WindowState w : windows) {
      String suffix = kind + "-" + w.window().label();
      h.add(RawHeader.create("x-ratelimit-limit-" + suffix, Long.toString(w.limit())));
      h.add(RawHeader.create("x-ratelimit-remaining-" + suffix, Long.toString(w.remaining())));
      h.add(RawHeader.create("x-ratelimit-reset-" + suffix, duration(Duration.between(now, w.resetAt()))));
    }
  }

  /** OpenAI's reset format: "59s", "6m0s", "1h2m3s" (whole seconds, rounded up; days count as hours). */
  static String duration(Duration d) {
    long s = Math.max(0, d.toMillis() + 999) / 1000;
    long hours = s / 3600;
    long minutes = (s % 3600) / 60;
    long seconds = s % 60;
    if (hours > 0) return hours + "h" + minutes + "m" + seconds + "s";
    if (minutes > 0) return minutes + "m" + seconds + "s";
    return seconds + "s";
  }
}
