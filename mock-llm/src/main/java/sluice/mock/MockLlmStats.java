package sluice.mock;

/**
 * A point-in-time copy of the server's counters, as served by {@code GET /stats}.
 *
 * @param requests          HTTP requests to /v1/... paths, whatever their outcome
 * @param completions       chat and text completion requests accepted (streaming or not)
 * @param streamsStarted    accepted completion requests with "stream": true
 * @param streamsCompleted  streams that generated every event; counted just before the final {@code data: [DONE]}
 * @param streamsAborted    streams cut short: the client went away (or the server closed) mid-stream
 * @param activeStreams     streams currently generating
 * @param promptTokens      prompt tokens of accepted completion and embedding requests
 * @param completionTokens  completion tokens actually generated; an aborted stream counts only those it sent
 */
public record MockLlmStats(
        long requests,
        long completions,
        long streamsStarted,
        long streamsCompleted,
        long streamsAborted,
        long activeStreams,
        long promptTokens,
        long completionTokens) {
}
