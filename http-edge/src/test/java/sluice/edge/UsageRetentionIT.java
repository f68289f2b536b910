package sluice.edge;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.typesafe.config.Config;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import sluice.agent.testing.Await;
import sluice.persistence.DataFolder;
import sluice.persistence.DatabaseSettings;
import sluice.persistence.Migrations;
import sluice.persistence.usage.UsageRecord;
import sluice.persistence.usage.UsageStore;

/**
 * Usage retention in the gateway: records older than the retention, written by an earlier run, are folded shortly
 * after start, and {@code GET /admin/usage} over a long range still gives the same totals; a period that cuts a
 * folded day is refused with an OpenAI error.
 */
@Timeout(120)
class UsageRetentionIT {
  static final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  static final ObjectMapper JSON = new ObjectMapper();

  static UsageRecord rec(String id, String user, long prompt, long completion, int status, Instant at) {
    return new UsageRecord(id, user, "key-" + user, "mock-llm", "/v1/chat/completions", null, false, status, prompt,
        completion, null, Duration.ofMillis(50), false, false, at);
  }

  @Test void totalsOverALongRangeAreTheSameAfterTheRollUpAndACutDayIsRefused() throws Exception {
    Path dir = Files.createTempDirectory("sluice-retention");
    EmbeddedStack.writeAgentConfig(dir);
    Config config = DatabaseSettings.applyTo(EmbeddedStack.config(dir, """
        sluice.services.mock-llm.min-replicas = 0
        sluice.services.slow.min-replicas = 0
        sluice.usage.retention = 30d
        sluice.usage.rollup.delay = 0s
        """));
    // An earlier run of the gateway left records of 40 to 31 days ago, and two of today.
    LocalDate today = LocalDate.now(ZoneOffset.UTC);
    LocalDate oldest = today.minusDays(40);
    List<UsageRecord> records = new ArrayList<>();
    for (int d = 0; d < 10; d++) {
      Instant noon = oldest.plusDays(d).atStartOfDay(ZoneOffset.UTC).toInstant().plus(Duration.ofHours(12));
      records.add(rec("a" + d, "alice", 10, 1, 200, noon));
      records.add(rec("b" + d, "bob", 20, 2, d % 2 == 0 ? 503 : 200, noon.plusSeconds(60)));
    }
    Instant todayStart = today.atStartOfDay(ZoneOffset.UTC).toInstant();
    records.add(rec("a-today", "alice", 100, 10, 200, todayStart));
    records.add(rec("b-today", "bob", 200, 20, 200, todayStart));
    DataFolder.prepare(config);
    Migrations.migrate(DatabaseSettings.from(config));
    try (UsageStore store = UsageStore.open(config)) {
      store.insert(records);
    }

    try (Gateway gateway = Gateway.start(config)) {
      String range = "from=" + oldest + "&to=" + today;               // dates: the whole of both days
      JsonNode folded = Await.until(Duration.ofSeconds(30), "the old records folded shortly after start",
          () -> usage(gateway, "/admin/usage?" + range), u -> u.get("data").size() == 2);

      assertEquals(22, folded.at("/totals/requests").asLong(), folded.toString());
      assertEquals(10 * 30 + 300, folded.at("/totals/prompt_tokens").asLong());
      assertEquals(10 * 3 + 30, folded.at("/totals/completion_tokens").asLong());
      assertEquals(5, folded.at("/totals/failed_requests").asLong());
      assertEquals(10 * 10 + 100, folded.at("/by_user_model/0/totals/prompt_tokens").asLong(), "alice, per user and model");
      assertEquals(List.of("a-today", "b-today"), List.of(folded.at("/data/0/request_id").asText(),
          folded.at("/data/1/request_id").asText()).stream().sorted().toList(), "the records listed are the kept ones");
      JsonNode oneOldDay = usage(gateway, "/admin/usage?user=bob&from=" + oldest.plusDays(3) + "&to=" + oldest.plusDays(3));
      assertEquals(1, oneOldDay.at("/totals/requests").asLong());
      assertEquals(20, oneOldDay.at("/totals/prompt_tokens").asLong());

      Instant cut = oldest.plusDays(2).atStartOfDay(ZoneOffset.UTC).toInstant().plus(Duration.ofHours(6));
      HttpResponse<String> refused = get(gateway, "/admin/usage?from=" + cut + "&to=" + today);
      assertEquals(400, refused.statusCode(), refused.body());
      JsonNode error = JSON.readTree(refused.body()).get("error");
      assertEquals("invalid_request_error", error.get("type").asText());
      assertEquals("invalid_request", error.get("code").asText());
      assertEquals("from", error.get("param").asText());
      assertTrue(error.get("message").asText().contains("kept only as daily totals"), error.toString());
    }
  }

  static HttpResponse<String> get(Gateway gateway, String path) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(gateway.baseUrl() + path))
        .header("Authorization", "Bearer " + EmbeddedStack.ADMIN_KEY).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  static JsonNode usage(Gateway gateway, String path) throws Exception {
    HttpResponse<String> r = get(gateway, path);
    assertEquals(200, r.statusCode(), path + ": " + r.body());
    return JSON.readTree(r.body());
  }
}
