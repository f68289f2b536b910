package sluice.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class StreamBenchTest {
  @Test void planDefaultsAndStreamsOption() {
    assertEquals(1000, StreamPlan.of(false, null).streams());
    assertEquals(200, StreamPlan.of(true, null).streams());
    assertEquals(5000, StreamPlan.of(true, 5000).streams());
    assertThrows(IllegalArgumentException.class, () -> StreamPlan.of(false, 0));
    assertThrows(IllegalArgumentException.class, () -> StreamPlan.of(false, 10_001));
    // every slow stream is still open when the last one opens: 10,000 at 1,000/s take 10 s
    assertEquals(12, StreamPlan.of(false, 1000).slowTokens());
    assertEquals(48, StreamPlan.of(false, 10_000).slowTokens());   // a 40 s ramp, then 8 s with all open
    assertEquals(10, StreamPlan.of(true, 200).slowTokens());
  }

  @Test void mockLlmGetsThreadsForTheUnpacedRequestsAndTheLongStreamsTokens() {
    Settings s = BenchMain.settings(List.of("direct", "nginx"), List.of(1, 64), Duration.ZERO, Duration.ZERO,
        Duration.ofSeconds(5), Duration.ZERO, StreamPlan.of(false, 3000));
    assertEquals(List.of("--tokens", "2000", "--token-delay-ms", "0", "--threads", "256"), s.mockArgs());
    // the slow streams hold no mock-llm thread, so the count does not grow with them; the sandbox's bench service has
    // as many
    assertEquals(256, StreamPlan.of(false, 10_000).mockThreads());
    assertEquals(3064, s.streams().inflight());
  }

  @Test void nginxIsAPathAndUnknownOnesAreRefused() {
    Settings s = BenchMain.settings(List.of("direct", "nginx", "embedded", "limited", "ssh"), List.of(1), Duration.ZERO,
        Duration.ZERO, Duration.ofSeconds(5), Duration.ZERO, StreamPlan.of(true, null));
    assertEquals(5, s.paths().size());
    assertThrows(IllegalArgumentException.class, () -> BenchMain.settings(List.of("direct", "haproxy"), List.of(1),
        Duration.ZERO, Duration.ZERO, Duration.ofSeconds(5), Duration.ZERO, StreamPlan.of(true, null)));
  }

  @Test void requestBodyCarriesTheTokensAndTheDelay() {
    assertTrue(StreamLoad.body("m", 12, 1000).contains("\"stream\":true,\"max_tokens\":12,\"mock_token_delay_ms\":1000"));
    assertTrue(!StreamLoad.body("m", 2000, -1).contains("mock_token_delay_ms"));
  }

  @Test void aStreamIsOpenFromItsFirstByteToItsEnd() {
    List<StreamLoad.Outcome> o = List.of(
        new StreamLoad.Outcome(200, 0, 10, 100, 5, true, null),
        new StreamLoad.Outcome(200, 0, 50, 60, 5, true, null),
        new StreamLoad.Outcome(0, 0, 0, 30, 0, false, "ConnectException"));   // never had a byte
    assertEquals(0, StreamBench.openAt(o, 5));
    assertEquals(1, StreamBench.openAt(o, 20));
    assertEquals(2, StreamBench.openAt(o, 55));
    assertEquals(0, StreamBench.openAt(o, 100));
  }

    @Test void procStatusGivesRssAndThreads() {
    String status = "Name:\tjava\nState:\tS (sleeping)\nVmPeak:\t 9000000 kB\nVmRSS:\t  524288 kB\nThreads:\t1043\n";
    StreamRow.Peak p = StreamBench.parseStatus(CpuUse.GATEWAY, 42, status);
    assertEquals(524288, p.rssKiB());
    assertEquals(1043, p.threads());
  }

  @Test void heapIsTheSumOfTheHeapPools() {
    String page = """
        # HELP jvm_memory_used_bytes The amount of used memory
        # TYPE jvm_memory_used_bytes gauge
        jvm_memory_used_bytes{area="heap",id="G1 Eden Space",} 1.048576E7
        jvm_memory_used_bytes{area="heap",id="G1 Old Gen",} 2.097152E7
        jvm_memory_used_bytes{area="nonheap",id="Metaspace",} 5.0E7
        jvm_memory_committed_bytes{area="heap",id="G1 Old Gen",} 9.9E7
        """;
    assertEquals(31457280L, StreamBench.heapFromMetrics(page));
    assertNull(StreamBench.heapFromMetrics("process_cpu_seconds_total 3.0\n"));
  }

  @Test void openFilesNoteSaysWhenTheLimitCapsTheStreams() {
    assertEquals("open files (`ulimit -n`): soft 1,024, hard 4,096; this caps the streams: about 4,512 are needed "
        + "(2 per stream in nginx)", StreamBench.fdNote(1024, 4096, 2000));
    assertEquals("open files (`ulimit -n`): soft 20,000, hard unlimited; enough for 1,000 streams (about 2,512 needed, "
        + "2 per stream in nginx)", StreamBench.fdNote(20000, Long.MAX_VALUE, 1000));
  }

  @Test void failuresAreGroupedByTheirStart() {
    String longError = "HTTP 503: " + "x".repeat(300);
    assertEquals(223, StreamBench.reason(longError).length());
    assertEquals("IOException: reset", StreamBench.reason("IOException: reset"));
    // streams cut at different points, with their own ids, are one reason
    String cut = "ended without [DONE] after 17 events; last: data: {\"id\":\"chatcmpl-9\",\"created\":1700,\"error\":{\"code\":\"upstream_error\"}}";
    assertEquals("ended without [DONE] after N events; last: data: {\"id\":…,\"created\":…,\"error\":{\"code\":\"upstream_error\"}}",
        StreamBench.reason(cut));
  }

  @Test void aStreamCutShortSaysItsLastEvent() {
    byte[] tail = new byte[StreamLoad.TAIL];
    byte[] body = "data: {\"a\":1}\n\ndata: {\"error\":{\"code\":\"tunnel_unresponsive\"}}\n\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    System.arraycopy(body, 0, tail, tail.length - body.length, body.length);
    assertEquals("; last: data: {\"error\":{\"code\":\"tunnel_unresponsive\"}}", StreamLoad.lastEvent(tail, body.length));
    assertTrue(!StreamLoad.endsWithDone(tail));
    byte[] done = "data: [DONE]\n\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    System.arraycopy(done, 0, tail, tail.length - done.length, done.length);
    assertTrue(StreamLoad.endsWithDone(tail));
  }
}
