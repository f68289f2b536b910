package sluice.edge.http;

import static org.apache.pekko.http.javadsl.server.Directives.concat;
import static org.apache.pekko.http.javadsl.server.Directives.delete;
import static org.apache.pekko.http.javadsl.server.Directives.get;
import static org.apache.pekko.http.javadsl.server.Directives.patch;
import static org.apache.pekko.http.javadsl.server.Directives.path;
import static org.apache.pekko.http.javadsl.server.Directives.post;
import static org.apache.pekko.http.javadsl.server.PathMatchers.segment;
import static sluice.edge.http.EdgeDirectives.body;
import static sluice.edge.http.EdgeDirectives.json;
import static sluice.edge.http.EdgeDirectives.refuse;
import static sluice.edge.http.FutureRoutes.onSuccess;

import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.Base64;
import java.util.Set;
import java.util.function.Function;
import org.apache.pekko.http.javadsl.model.StatusCode;
import org.apache.pekko.http.javadsl.model.StatusCodes;
import org.apache.pekko.http.javadsl.server.Route;
import sluice.core.AdminRefusal;
import sluice.core.ids.KeyId;
import sluice.core.ids.UserId;
import sluice.core.user.KeyView;
import sluice.core.user.UserDirectory;
import sluice.core.user.UserReply;

/**
 * {@code /admin/users} and {@code /admin/keys}: users, their groups and limit overrides, and their API keys. Keys are
 * generated here and shown once, in the response that creates them; the user actor only ever sees their SHA-256 digest.
 */
final class UserAdminRoutes {
  private static final SecureRandom RANDOM = new SecureRandom();

  private final UserDirectory users;
  private final Clock clock;

  UserAdminRoutes(UserDirectory users, Clock clock) {
    this.users = users;
    this.clock = clock;
  }

  Route routes() {
    return concat(
        path("users", () -> concat(post(this::createUser), get(this::listUsers))),
        path(segment("users").slash(segment()), id -> concat(
            get(() -> user(id, u -> onSuccess(users.get(u), reply -> userReply(reply, StatusCodes.OK)))),
            patch(() -> user(id, this::updateUser)))),
        path(segment("users").slash(segment()).slash("keys"), id -> post(() -> user(id, this::createKey))),
        path(segment("keys").slash(segment()), id -> delete(() -> revokeKey(id))));
  }

  private Route createUser() {
    return body(AdminBodies.NewUser.class, ApiError.Kind.INVALID_REQUEST, Set.of("id"), b ->
        onSuccess(users.create(b.id(), b.groups(), b.limits()), reply -> userReply(reply, StatusCodes.CREATED)));
  }

  private Route listUsers() {
    ObjectNode root = OpenAiJson.MAPPER.createObjectNode();
    root.put("object", "list");
    ArrayNode data = root.putArray("data");
    users.userIds().forEach(id -> data.addObject().put("id", id.value()));
    return json(root);
  }

  /** Present fields replace: {@code groups} the user's groups, {@code limits} its overrides ({} = the group's defaults). */
  private Route updateUser(UserId id) {
    return body(AdminBodies.UserChange.class, ApiError.Kind.INVALID_REQUEST, Set.of(), b ->
        onSuccess(users.update(id, b.groups(), b.limits()), reply -> userReply(reply, StatusCodes.OK)));
  }

  private Route createKey(UserId user) {
    return body(AdminBodies.NewKey.class, ApiError.Kind.INVALID_REQUEST, Set.of(), b -> {
      if (b.expiresAt().isPresent() && !b.expiresAt().get().isAfter(clock.instant())) {
        return refuse(ApiError.of(ApiError.Kind.INVALID_REQUEST, "'expires_at' must be in the future"));
      }
      String secret = newSecret();
      KeyId keyId = KeyId.random();
      return onSuccess(users.createKey(user, keyId, ApiKeys.sha256(secret), b.name(), b.expiresAt().orElse(null), b.models(),
          b.limits()), reply -> {
            if (!(reply instanceof UserReply.Done d)) return refused((UserReply.Refused) reply);
            KeyView key = d.user().keys().stream().filter(k -> k.id().equals(keyId.value())).findFirst().orElseThrow();
            ObjectNode out = AdminJson.key(key);
            out.put("user", user.value());
            out.put("key", secret);      // the only time the secret leaves the gateway
            return json(StatusCodes.CREATED, out);
          });
    });
  }

  private Route revokeKey(String id) {
    if (!KeyId.isValid(id)) return refuse(ApiError.of(AdminRefusal.KEY_NOT_FOUND, "No such key (key ids are " + KeyId.RULE + ")"));
    KeyId keyId = KeyId.of(id);
    return onSuccess(users.revokeKey(keyId), reply -> {
      if (!(reply instanceof UserReply.Done d)) return refused((UserReply.Refused) reply);
      KeyView key = d.user().keys().stream().filter(k -> k.id().equals(keyId.value())).findFirst().orElseThrow();
      ObjectNode out = AdminJson.key(key);
      out.put("user", d.user().id());
      out.put("revoked", true);
      return json(out);
    });
  }

  /** A user id from the path; one that cannot be a user id names no user (404, as an unknown one). */
  private static Route user(String id, Function<UserId, Route> inner) {
    if (!UserId.isValid(id)) return refuse(ApiError.of(AdminRefusal.USER_NOT_FOUND, "No user '" + id + "'"));
    return inner.apply(UserId.of(id));
  }

  /** {@code sk-sluice-} and 256 random bits, so an unsalted SHA-256 digest of it cannot be reversed or guessed. */
  private static String newSecret() {
    byte[] b = new byte[32];
    RANDOM.nextBytes(b);
    return "sk-sluice-" + Base64.getUrlEncoder().withoutPadding().encodeToString(b);
  }

  private static Route userReply(UserReply reply, StatusCode ok) {
    if (reply instanceof UserReply.Done d) return json(ok, AdminJson.user(d.user()));
    return refused((UserReply.Refused) reply);
  }

  private static Route refused(UserReply.Refused r) { return refuse(ApiError.of(r.reason(), r.message())); }
}
