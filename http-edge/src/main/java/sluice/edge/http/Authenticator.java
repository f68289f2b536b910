package sluice.edge.http;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import org.apache.pekko.http.javadsl.model.HttpResponse;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.model.headers.RawHeader;
import sluice.core.user.Credential;
import sluice.core.user.KeyRef;
import sluice.core.user.UserDirectory;
import sluice.edge.auth.JwtVerifier;

/**
 * Who is calling, from the {@code Authorization} header: a JWT of a configured OIDC issuer, a key from the config, or
 * a key made through the admin API (found by its digest in the in-memory key index). It only establishes identity; the
 * user actor decides at admission whether the key is still valid (revoked, expired) and what it may do.
 */
public final class Authenticator {
  /**
   * @param userId     the user whose limits and usage the request counts against
   * @param credential what the user actor checks at admission
   * @param keyId      the admin-made key's id, empty for config keys and JWTs
   */
  public record Caller(String userId, Credential credential, Optional<String> keyId) {}

  /** Either a caller or the response that refuses the request. */
  public sealed interface Result {}

  public record Authenticated(Caller caller) implements Result {}

  public record Denied(HttpResponse response) implements Result {}

  private final ApiKeys configKeys;
  private final UserDirectory users;
  private final JwtVerifier jwt;
  private final Executor blocking;

  public Authenticator(ApiKeys configKeys, UserDirectory users, JwtVerifier jwt, Executor blocking) {
    this.configKeys = configKeys;
    this.users = users;
    this.jwt = jwt;
    this.blocking = blocking;
  }

  public CompletionStage<Result> authenticate(Optional<String> header) {
    if (header.isEmpty()) return denied("You didn't provide an API key: send 'Authorization: Bearer <key>'");
    Optional<String> token = bearer(header);
    if (token.isEmpty()) return denied("The Authorization header must be 'Bearer <key>'");
    String secret = token.get();
    if (jwt.enabled() && JwtVerifier.looksLikeJwt(secret)) {
      // The first token of an issuer fetches its JWKS: keep that off the request dispatcher.
      return CompletableFuture.supplyAsync(() -> fromJwt(jwt.verify(secret)), blocking);
    }
    String digest = ApiKeys.sha256(secret);
    Optional<ApiKeys.ConfigKey> configured = configKeys.byDigest(digest);
    if (configured.isPresent()) {
      ApiKeys.ConfigKey k = configured.get();
      return done(new Authenticated(new Caller(k.user(),
          new Credential.Trusted("config:" + k.name(), "config", k.groups()), Optional.empty())));
    }
    Optional<KeyRef> ref = users.keyByDigest(digest);
    if (ref.isEmpty()) return denied("Incorrect API key provided");
    return done(new Authenticated(new Caller(ref.get().userId(), new Credential.ApiKey(digest), Optional.of(ref.get().keyId()))));
  }

  private static Result fromJwt(JwtVerifier.Result r) {
    if (r instanceof JwtVerifier.Result.Verified v) {
      return new Authenticated(new Caller(v.userId(), new Credential.Trusted("oidc:" + v.issuer(), "oidc", v.groups()),
          Optional.empty()));
    }
    JwtVerifier.Result.Rejected rejected = (JwtVerifier.Result.Rejected) r;
    if (rejected.reason().equals("jwks_unavailable")) {
      // Not the caller's fault: the token may be fine, the issuer's keys could not be fetched.
      return new Denied(OpenAiErrors.response(StatusCodes.SERVICE_UNAVAILABLE, OpenAiErrors.SERVER_ERROR, "jwks_unavailable",
          null, rejected.message(), List.of(RawHeader.create("Retry-After", "5"))));
    }
    return new Denied(OpenAiErrors.response(StatusCodes.UNAUTHORIZED, OpenAiErrors.INVALID_REQUEST, "invalid_token", null,
        rejected.message(), List.of(RawHeader.create("WWW-Authenticate", "Bearer error=\"invalid_token\""))));
  }

  static Optional<String> bearer(Optional<String> header) {
    return header.filter(h -> h.regionMatches(true, 0, "Bearer ", 0, 7)).map(h -> h.substring(7).trim()).filter(t -> !t.isEmpty());
  }

  private static CompletionStage<Result> denied(String message) {
    return done(new Denied(OpenAiErrors.unauthorized(message)));
  }

  private static CompletionStage<Result> done(Result r) { return CompletableFuture.completedFuture(r); }
}
