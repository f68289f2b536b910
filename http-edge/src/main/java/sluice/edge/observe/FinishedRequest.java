package sluice.edge.observe;

import java.time.Duration;

/**
 * How one request on the OpenAI API ended, as metrics and the request log see it. Never the prompt, the completion,
 * the key's secret or a header.
 *
 * @param model    the model the client named (anything until checked; metrics use it only when it is configured)
 * @param outcome  {@code ok}, {@code client_disconnected}, {@code server_shutdown}, {@code upstream_error}, or the
 *                 error code the client got ({@code rate_limit_exceeded}, {@code model_not_ready}, …)
 * @param keyId    the key's id, or the configured key's or issuer's label; never a secret
 * @param jobId    the Slurm job that answered, or null when none did
 * @param ttft     until the first token reached the client, or null when none did
 * @param limit    the user's or key's limit that refused it ({@code requests}, {@code tokens}, {@code concurrency},
 *                 {@code budget}), or null
 */
public record FinishedRequest(String requestId, String user, String keyId, String model, String endpoint, boolean stream,
                              int status, String outcome, String jobId, Duration ttft, Duration duration,
                              long promptTokens, long completionTokens, boolean clientDisconnected, boolean admitted,
                              String limit) {}
