package sluice.edge.http;

import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;
import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;
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
  public record Caller(UserId userId, Credential credential, Optional<KeyId> keyId) {
    /** How usage records name the credential: the key's id, or the configured key's or issuer's label. */
    public String credentialLabel() {
      if (keyId.isPresent()) return keyId.get().value();
      return credential instanceof Credential.Trusted t ? t.label() : "";
    }
  }

  /** Either a caller or the response that refuses the request. */
  public sealed interface Result {}

  public record Authenticated(Caller caller) implements Result {}

  public record Denied(ApiError error) implements Result {}

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
    return new Denied(ApiError.of(rejected.reason(), rejected.message()));
  }

  static Optional<String> bearer(Optional<String> header) {
    return header.filter(h -> h.regionMatches(true, 0, "Bearer ", 0, 7)).map(h -> h.substring(7).trim()).filter(t -> !t.isEmpty());
  }

  private static CompletionStage<Result> denied(String message) {
    return done(new Denied(ApiError.of(ApiError.Kind.INVALID_API_KEY, message)));
  }

  private static CompletionStage<Result> done(Result r) { return CompletableFuture.completedFuture(r); }
}
