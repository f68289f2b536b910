package sluice.persistence.usage;

import com.typesafe.config.Config;
import com.typesafe.config.ConfigFactory;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

/** Test data: records and the gateway's database config over a temporary folder. */
final class Records {
  static final Instant T0 = Instant.parse("2026-03-01T10:00:00Z");

  private Records() {}

  /** As the gateway loads it: sluice-persistence.conf over the reference settings, with sluice.data-dir set. */
  static Config config(Path dir) {
    return ConfigFactory.load(ConfigFactory.parseString("sluice.data-dir = \"" + dir + "\"")
        .withFallback(ConfigFactory.parseResources("sluice-persistence.conf")));
  }

  static UsageRecord rec(String id, String user, String model, int status, long prompt, long completion, Instant at) {
    return new UsageRecord(id, user, "key-" + user, model, "/v1/chat/completions", "job-7", true, status, prompt,
        completion, Duration.ofMillis(120), Duration.ofMillis(900), false, false, at);
  }

  static UsageRecord rec(String id, Instant at) { return rec(id, "alice", "llama", 200, 10, 5, at); }
}
