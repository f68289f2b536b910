package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.Arrays;
import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeoutException;
import java.util.stream.Collectors;
import org.apache.pekko.http.javadsl.model.HttpEntity;
import org.apache.pekko.http.javadsl.model.HttpHeader;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import sluice.core.AdminRefusal;
import sluice.core.cluster.ClusterException;
import sluice.core.cluster.ClusterFailure;
import sluice.core.service.LeaseRefusal;
import sluice.core.service.LeaseReply;
import sluice.core.user.Admission;
import sluice.core.user.AdmissionRefusal;
import sluice.core.user.RateInfo;
import sluice.edge.auth.JwtVerifier;

/** The one mapping from core's typed reasons to what clients are told: status, OpenAI type, code, param, headers. */
class ApiErrorTest {

  private static String header(HttpResponse r, String name) {
    return r.getHeader(name).map(HttpHeader::value).orElse(null);
  }

  private static JsonNode json(HttpResponse r) throws Exception {
    return OpenAiJson.MAPPER.readTree(((HttpEntity.Strict) r.entity()).getData().utf8String());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "INVALID_REQUEST,    400, invalid_request_error, invalid_request",
      "UNKNOWN_KEY,        401, invalid_request_error, invalid_api_key",
      "KEY_REVOKED,        401, invalid_request_error, key_revoked",
      "KEY_EXPIRED,        401, invalid_request_error, key_expired",
      "MODEL_NOT_ALLOWED,  403, invalid_request_error, model_not_allowed",
      "CONCURRENCY_LIMIT,  429, requests,              concurrency_limit_exceeded",
      "REQUEST_RATE_LIMIT, 429, requests,              rate_limit_exceeded",
      "TOKEN_RATE_LIMIT,   429, tokens,                rate_limit_exceeded",
      "TOKEN_BUDGET,       429, insufficient_quota,    insufficient_quota"})
  void everyAdmissionRefusalHasItsStatusTypeAndCode(AdmissionRefusal reason, int status, String type, String code) throws Exception {
    long retry = reason.isLimit() ? 30 : -1;
    ApiError e = ApiError.of(new Admission.Refused(reason, "why", retry, "key_1", RateInfo.NONE));
    HttpResponse r = OpenAiErrors.response(e);
    assertEquals(status, r.status().intValue());
    JsonNode error = json(r).get("error");
    assertEquals(type, error.get("type").asText());
    assertEquals(code, error.get("code").asText());
    assertEquals("why", error.get("message").asText());
    assertEquals(reason == AdmissionRefusal.MODEL_NOT_ALLOWED ? "model" : null, error.get("param").isNull() ? null : error.get("param").asText());
    assertEquals(status == 401 ? "Bearer" : null, header(r, "WWW-Authenticate"));
    assertEquals(reason.isLimit() ? "30" : null, header(r, "Retry-After"));
  }

  @Test void theAdmissionTableCoversEveryReason() {
    assertEquals(EnumSet.allOf(AdmissionRefusal.class).size(), 9, "a new reason needs a row above");
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "INVALID_REQUEST,   400, invalid_request",
      "USER_EXISTS,       409, user_exists",
      "USER_NOT_FOUND,    404, user_not_found",
      "KEY_EXISTS,        409, key_exists",
      "KEY_NOT_FOUND,     404, key_not_found",
      "SERVICE_NOT_FOUND, 404, service_not_found",
      "INVALID_SCALE,     400, invalid_scale",
      "REPLICA_NOT_FOUND, 404, replica_not_found"})
  void everyAdminRefusalHasItsStatusAndTheSameCodeAsItsLabel(AdminRefusal reason, int status, String code) throws Exception {
    HttpResponse r = OpenAiErrors.response(ApiError.of(reason, "no"));
    assertEquals(status, r.status().intValue());
    assertEquals(code, json(r).at("/error/code").asText());
    assertEquals(reason.label(), code);
    assertEquals("invalid_request_error", json(r).at("/error/type").asText());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource({
      "UNAVAILABLE,      503, model_not_ready,      5",
      "TUNNEL_UNRESPONSIVE, 503, tunnel_unresponsive, 5",
      "AGENT_BUSY,       503, model_not_ready,      5",
      "SCHEDULER_ERROR,  503, model_not_ready,      5",
      "UNKNOWN_JOB,      503, model_not_ready,      1",
      "JOB_NOT_RUNNING,  503, model_not_ready,      1",
      "PATH_NOT_ALLOWED, 403, endpoint_not_allowed, -1",
      "AGENT_TIMEOUT,    504, timeout,              -1",
      "UPSTREAM_TIMEOUT, 504, timeout,              -1",
      "CONNECTION_LOST,  502, upstream_error,       -1",
      "AGENT_ERROR,      502, upstream_error,       -1",
      "BAD_CALL,         502, upstream_error,       -1",
      "UNKNOWN_SERVICE,  502, upstream_error,       -1",
      "UPSTREAM_ERROR,   502, upstream_error,       -1"})
  void everyClusterFailureHasItsStatusCodeAndRetryHint(ClusterFailure f, int status, String code, long retryAfter) throws Exception {
    ApiError e = ApiError.fromFailure(new CompletionException(new ClusterException(f, "detail")));
    assertEquals(status, e.status().intValue());
    assertEquals(code, e.kind().code());
    assertEquals(retryAfter, e.retryAfterSeconds());
    assertEquals(status >= 500 ? "server_error" : "invalid_request_error", e.kind().type());
  }

  @Test void theClusterTableCoversEveryFailure() {
    assertEquals(14, ClusterFailure.values().length, "a new failure needs a row above");
  }

  @Test void retryingOnAnotherReplicaIsForFailuresOfTheReplicaOnly() {
    Set<ClusterFailure> retried = Arrays.stream(ClusterFailure.values()).filter(ClusterFailure::worthRetrying)
        .collect(Collectors.toCollection(() -> EnumSet.noneOf(ClusterFailure.class)));
    assertEquals(EnumSet.of(ClusterFailure.UNAVAILABLE, ClusterFailure.CONNECTION_LOST, ClusterFailure.AGENT_BUSY,
        ClusterFailure.AGENT_ERROR, ClusterFailure.UNKNOWN_JOB, ClusterFailure.JOB_NOT_RUNNING, ClusterFailure.SCHEDULER_ERROR,
        ClusterFailure.UPSTREAM_ERROR), retried);
  }

  @Test void everyLeaseRefusalIsAServiceUnavailableWithItsRetryHint() throws Exception {
    for (LeaseRefusal reason : LeaseRefusal.values()) {
      HttpResponse r = OpenAiErrors.response(ApiError.of(new LeaseReply.Unavailable(reason, "the queue is full", 7)));
      assertEquals(503, r.status().intValue());
      assertEquals("7", header(r, "Retry-After"));
      assertEquals(reason == LeaseRefusal.TUNNEL_UNRESPONSIVE ? "tunnel_unresponsive" : "model_not_ready",
          json(r).at("/error/code").asText(), reason.name());
      assertEquals("server_error", json(r).at("/error/type").asText());
    }
  }

  @Test void aTimedOutAskIsUnavailableAndAnythingElseIsInternal() {
    ApiError timeout = ApiError.fromFailure(new CompletionException(new TimeoutException("ask")));
    assertEquals(503, timeout.status().intValue());
    assertEquals(5, timeout.retryAfterSeconds());
    ApiError other = ApiError.fromFailure(new IllegalStateException("boom"));
    assertEquals(500, other.status().intValue());
    assertEquals("internal_error", other.kind().code());
    assertFalse(other.message().contains("boom"), "internal details stay inside");
  }

  @Test void anAdminAskNotAnsweredInTimeIsARetryable503NotAnInternalError() {
    // Seen in ClusterHpcIT: GET /admin/users/{id} while that user's actor moved off a killed node answered 500.
    ApiError timeout = ApiError.fromRouteFailure(new CompletionException(new TimeoutException("Ask timed out on [user]")));
    assertEquals(503, timeout.status().intValue());
    assertEquals("temporarily_unavailable", timeout.kind().code());
    assertEquals(5, timeout.retryAfterSeconds());
    assertFalse(timeout.message().contains("Ask"), "no actor paths or internals");
    assertEquals("internal_error", ApiError.fromRouteFailure(new IllegalStateException("boom")).kind().code());
  }

  @Test void aRefusedTokenIs401UnlessTheIssuersKeysCannotBeFetched() throws Exception {
    HttpResponse refused = OpenAiErrors.response(ApiError.of(JwtVerifier.Rejection.EXPIRED, "the token has expired"));
    assertEquals(401, refused.status().intValue());
    assertEquals("invalid_token", json(refused).at("/error/code").asText());
    assertEquals("Bearer error=\"invalid_token\"", header(refused, "WWW-Authenticate"));
    HttpResponse jwks = OpenAiErrors.response(ApiError.of(JwtVerifier.Rejection.JWKS_UNAVAILABLE, "later"));
    assertEquals(503, jwks.status().intValue());
    assertEquals("jwks_unavailable", json(jwks).at("/error/code").asText());
    assertEquals("5", header(jwks, "Retry-After"));
    assertEquals(null, header(jwks, "WWW-Authenticate"));
  }

  @Test void anErrorInsideAStreamIsOneSseEventWithTheSameJson() throws Exception {
    String event = OpenAiErrors.sseEvent(ApiError.of(ApiError.Kind.UPSTREAM_ERROR, "The model server failed").withParam("x"))
        .utf8String();
    assertTrue(event.startsWith("data: ") && event.endsWith("\n\n"), event);
    JsonNode error = OpenAiJson.MAPPER.readTree(event.substring(6)).get("error");
    assertEquals("upstream_error", error.get("code").asText());
    assertEquals("server_error", error.get("type").asText());
    assertTrue(error.get("param").isNull());
  }

  @Test void extraHeadersGoOnTheResponse() {
    HttpResponse r = OpenAiErrors.response(ApiError.of(ApiError.Kind.REQUEST_RATE_LIMIT, "slow down").withRetryAfter(3)
        .withHeaders(List.of(RawHeader.create("x-ratelimit-limit-requests", "1"))));
    assertEquals("1", header(r, "x-ratelimit-limit-requests"));
    assertEquals("3", header(r, "Retry-After"));
  }

  @Test void everyKindHasItsOwnNonNullCode() {
    for (ApiError.Kind k : ApiError.Kind.values()) {
      assertTrue(k.code() != null && k.code().matches("[a-z_]+"), k.name());
      assertTrue(OpenAiErrors.body(ApiError.of(k, "m")).at("/error/code").isTextual(), k.name());
    }
  }

  @Test void everyKindHasAStatusAndAType() {
    for (ApiError.Kind k : ApiError.Kind.values()) {
      assertTrue(k.status().intValue() >= 400 && k.status().intValue() < 600, k.name());
      assertTrue(Set.of("invalid_request_error", "server_error", "requests", "tokens", "insufficient_quota").contains(k.type()), k.name());
    }
  }
}
