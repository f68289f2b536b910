package sluice.edge.observe;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.Labels;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import sluice.core.metrics.SluiceMetrics;

class RequestObserveTest {
  private static FinishedRequest request(String model, String endpoint, int status, String outcome, boolean admitted, String limit) {
    return new FinishedRequest("req-1", "alice", "key-1", model, endpoint, false, status, outcome, admitted ? "42" : null,
        admitted ? Duration.ofMillis(12) : null, Duration.ofMillis(30), admitted ? 7 : 0, admitted ? 16 : 0, false, admitted, limit);
  }

  private static double counter(SluiceMetrics m, String name, String... labels) {
    CounterSnapshot s = (CounterSnapshot) m.registry.scrape().stream().filter(x -> x.getMetadata().getPrometheusName().equals(name))
        .findFirst().orElseThrow();
    return s.getDataPoints().stream().filter(d -> d.getLabels().equals(Labels.of(labels))).mapToDouble(d -> d.getValue())
        .findFirst().orElse(0);
  }

  @Test void aModelOrEndpointTheClientMadeUpDoesNotBecomeALabel() {
    SluiceMetrics m = SluiceMetrics.standalone(false);
    RequestMeters meters = new RequestMeters(m, List.of("mock-llm"));
    meters.finished(request("../../etc/passwd", "/v1/anything-" + System.nanoTime(), 404, "model_not_found", false, null));
    meters.finished(request("mock-llm", "/v1/rerank", 200, "ok", false, null));
    assertEquals(1, counter(m, "sluice_requests", "endpoint", "other", "model", "-", "outcome", "model_not_found", "status", "404"));
    assertEquals(1, counter(m, "sluice_requests", "endpoint", "other", "model", "mock-llm", "outcome", "ok", "status", "200"));
  }

  @Test void anAdmittedRequestIsInFlightUntilItFinishesAndARefusalByALimitIsCountedByKind() {
    SluiceMetrics m = SluiceMetrics.standalone(false);
    RequestMeters meters = new RequestMeters(m, List.of("mock-llm"));
    meters.admitted("mock-llm");
    GaugeSnapshot inflight = (GaugeSnapshot) m.registry.scrape(n -> n.equals("sluice_inflight_requests")).get(0);
    assertEquals(1, inflight.getDataPoints().get(0).getValue());
    meters.finished(request("mock-llm", "/v1/chat/completions", 200, "ok", true, null));
    meters.finished(request("mock-llm", "/v1/chat/completions", 429, "rate_limit_exceeded", false, "tokens"));
    inflight = (GaugeSnapshot) m.registry.scrape(n -> n.equals("sluice_inflight_requests")).get(0);
    assertEquals(0, inflight.getDataPoints().get(0).getValue());
    assertEquals(1, counter(m, "sluice_ratelimit_refusals", "kind", "tokens", "model", "mock-llm"));
    assertEquals(16, counter(m, "sluice_tokens", "model", "mock-llm", "type", "completion"));
    assertEquals(7, counter(m, "sluice_tokens", "model", "mock-llm", "type", "prompt"));
  }

  @Test void theUserLabelIsThereOnlyWhenSwitchedOn() {
    SluiceMetrics off = SluiceMetrics.standalone(false);
    new RequestMeters(off, List.of("mock-llm")).finished(request("mock-llm", "/v1/chat/completions", 200, "ok", true, null));
    assertTrue(off.registry.scrape(n -> n.startsWith("sluice_user_tokens")).size() == 0);
    SluiceMetrics on = SluiceMetrics.standalone(true);
    new RequestMeters(on, List.of("mock-llm")).finished(request("mock-llm", "/v1/chat/completions", 200, "ok", true, null));
    assertEquals(16, counter(on, "sluice_user_tokens", "type", "completion", "user", "alice"));
  }

  @Test void whatTheClientNamedReachesALineOnlyAsAConfiguredModelOrAKnownEndpoint() {
    // Seen in HostileClientIT: a key put into the path of a request (404) reached the request log.
    RequestLog log = new RequestLog(false, "127.0.0.1:25520", List.of("mock-llm"));
    String line = log.text(request("sk-in-the-model\n12:00:00 INFO forged", "/v1/sk-in-the-path/chat/completions", 404,
        "unknown_url", false, null));
    assertFalse(line.contains("sk-in-the") || line.contains("forged") || line.contains("\n"), line);
    assertTrue(line.contains(" model=- endpoint=other "), line);
    assertTrue(log.text(request("mock-llm", "/v1/embeddings", 200, "ok", true, null)).contains(" model=mock-llm endpoint=/v1/embeddings "));
    assertTrue(line.startsWith("request request_id=req-1 user=alice key_id=key-1 "), line);
    assertTrue(line.contains(" node=127.0.0.1:25520 ") && line.contains(" ttft_ms=- ") && line.contains(" duration_ms=30.0 "), line);
  }

  @Test void aJsonLineHoldsEveryFieldAtTheTopLevel() throws Exception {
    var json = new ObjectMapper().readTree(new RequestLog(true, "n1:1", List.of("mock-llm")).json(request("mock-llm", "/v1/chat/completions", 200, "ok", true, null)));
    assertEquals("sluice.request", json.get("logger").asText());
    assertEquals("42", json.get("job").asText());
    assertEquals(12.0, json.get("ttft_ms").asDouble());
    assertEquals(16, json.get("completion_tokens").asInt());
    assertEquals("n1:1", json.get("node").asText());
  }
}
