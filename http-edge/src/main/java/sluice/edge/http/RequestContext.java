package sluice.edge.http;

import java.time.Instant;

/**
 * One request on the OpenAI API as the edge knows it: who sent it, to which endpoint, since when, and, once the body
 * has been read, which model it names and whether it streams. It travels through admission, the proxy and the ledger
 * instead of long argument lists.
 *
 * @param requestId the client's {@code x-request-id} if it sent a valid one, else one the edge made
 * @param model     the model as the client named it (anything until checked), or empty before the body is read
 */
public record RequestContext(String requestId, Authenticator.Caller caller, String endpoint, Instant startedAt,
                             String model, boolean stream) {

  static RequestContext start(String requestId, Authenticator.Caller caller, String endpoint, Instant startedAt) {
    return new RequestContext(requestId, caller, endpoint, startedAt, "", false);
  }

  /** The same request, now known to name {@code model} and to stream or not. */
  RequestContext about(String model, boolean stream) {
    return new RequestContext(requestId, caller, endpoint, startedAt, model, stream);
  }
}
