package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Instant;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;
import sluice.core.ids.GroupName;
import sluice.core.ids.KeyName;
import sluice.core.ids.ServiceId;
import sluice.core.ids.UserId;
import sluice.core.user.UserLimits;
import sluice.core.user.Window;

/** Admin bodies bind to records that check themselves; every wrong body becomes one OpenAI error. */
class AdminBodiesTest {

  private static <T> ApiError refused(String json, Class<T> type, ApiError.Kind kind, Set<String> named) {
    return assertThrows(ApiException.class, () -> AdminBodies.bind(json, type, kind, named)).error();
  }

  private static ApiError newUser(String json) {
    return refused(json, AdminBodies.NewUser.class, ApiError.Kind.INVALID_REQUEST, Set.of("id"));
  }

  @Test void aValidNewUserBinds() {
    var u = AdminBodies.bind("{\"id\":\"alice@uni.example\",\"groups\":[\"staff\",\"/org/unit\",\"staff\"],"
        + "\"limits\":{\"requests\":{\"minute\":60}}}", AdminBodies.NewUser.class, ApiError.Kind.INVALID_REQUEST, Set.of("id"));
    assertEquals(UserId.of("alice@uni.example"), u.id());
    assertEquals(List.of(GroupName.of("staff"), GroupName.of("/org/unit")), u.groups(), "duplicates dropped, order kept");
    assertEquals(60L, u.limits().user().requests().get(Window.MINUTE));
    var bare = AdminBodies.bind("{\"id\":\"bob\"}", AdminBodies.NewUser.class, ApiError.Kind.INVALID_REQUEST, Set.of("id"));
    assertEquals(List.of(), bare.groups());
    assertEquals(UserLimits.NONE, bare.limits());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{not json                                   | invalid_json    |        | could not parse",
      "[1]                                         | invalid_json    |        | must be a JSON object",
      "\"x\"                                       | invalid_json    |        | must be a JSON object",
      "{}                                          | invalid_request | id     | 'id' is required",
      "{\"id\":\"bad id!\"}                        | invalid_request | id     | invalid user id 'bad id!'",
      "{\"id\":7}                                  | invalid_request | id     | 'id' must be a string",
      "{\"id\":\"x\",\"colour\":\"red\"}           | invalid_request | colour | Unknown field 'colour' (allowed: groups, id, limits)",
      "{\"id\":\"x\",\"groups\":\"staff\"}         | invalid_request |        | 'groups' must be an array",
      "{\"id\":\"x\",\"groups\":null}              | invalid_request |        | 'groups' must be an array",
      "{\"id\":\"x\",\"groups\":[\"-x\"]}          | invalid_request |        | invalid group '-x'",
      "{\"id\":\"x\",\"groups\":[1]}               | invalid_request |        | 'groups' entries must be group names",
      "{\"id\":\"x\",\"limits\":{\"requests\":{\"minut\":1}}} | invalid_request | | limits.requests.minut: unknown window",
      "{\"id\":\"x\",\"limits\":[]}                | invalid_request |        | limits: must be an object",
      "{\"id\":\"x\"} {\"id\":\"y\"}                | invalid_json    |        | could not parse",
      "{\"id\":\"x\"} garbage                       | invalid_json    |        | could not parse",
      "{\"id\":\"x\",\"id\":\"y\"}                 | invalid_json    | id     | the field 'id' more than once",
      "{\"id\":\"x\",\"limits\":{\"requests\":{\"minute\":1,\"minute\":9}}} | invalid_json | limits.requests.minute | more than once"})
  void aWrongNewUserIsRefusedWithItsReason(String json, String code, String param, String message) {
    ApiError e = newUser(json);
    assertEquals(code, e.kind().code());
    assertEquals(param, e.param());
    assertTrue(e.message().contains(message), e.message());
  }

  @Test void aChangeNeedsSomethingToChangeAndNullLimitsClearTheOverrides() {
    ApiError nothing = refused("{}", AdminBodies.UserChange.class, ApiError.Kind.INVALID_REQUEST, Set.of());
    assertTrue(nothing.message().contains("Nothing to change"), nothing.message());
    var cleared = AdminBodies.bind("{\"limits\":null}", AdminBodies.UserChange.class, ApiError.Kind.INVALID_REQUEST, Set.of());
    assertEquals(Optional.of(UserLimits.NONE), cleared.limits());
    assertEquals(Optional.empty(), cleared.groups());
    var groups = AdminBodies.bind("{\"groups\":[]}", AdminBodies.UserChange.class, ApiError.Kind.INVALID_REQUEST, Set.of());
    assertEquals(Optional.of(List.of()), groups.groups());
    assertEquals(Optional.empty(), groups.limits());
  }

  @Test void aNewKeyTakesADateAsItsMidnightAndDefaultsEverythingElse() {
    var k = AdminBodies.bind("{\"name\":\"ci\",\"expires_at\":\"2031-02-03\",\"models\":[\"m1\",\"m1\"]}", AdminBodies.NewKey.class,
        ApiError.Kind.INVALID_REQUEST, Set.of());
    assertEquals(KeyName.of("ci"), k.name());
    assertEquals(Optional.of(Instant.parse("2031-02-03T00:00:00Z")), k.expiresAt());
    assertEquals(List.of(ServiceId.of("m1")), k.models());
    var bare = AdminBodies.bind("{}", AdminBodies.NewKey.class, ApiError.Kind.INVALID_REQUEST, Set.of());
    assertEquals(KeyName.NONE, bare.name());
    assertEquals(Optional.empty(), bare.expiresAt());
    assertEquals(List.of(), bare.models());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{\"name\":\" \"}                  | invalid key name",
      "{\"expires_at\":\"tomorrow\"}     | 'expires_at': invalid time 'tomorrow'",
      "{\"expires_at\":1}                | 'expires_at' must be a string",
      "{\"models\":[1]}                  | 'models' must be a string",
      "{\"models\":[\"bad model\"]}      | invalid model 'bad model'",
      "{\"secret\":\"x\"}                | Unknown field 'secret'"})
  void aWrongNewKeyIsRefusedWithItsReason(String json, String message) {
    ApiError e = refused(json, AdminBodies.NewKey.class, ApiError.Kind.INVALID_REQUEST, Set.of());
    assertEquals("invalid_request", e.kind().code());
    assertTrue(e.message().contains(message), e.message());
  }

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', value = {
      "{\"min\":\"1\",\"max\":2}   | min",
      "{\"min\":1.5,\"max\":2}     | min",
      "{\"min\":true,\"max\":2}    | min",
      "{\"min\":1}                 | max",
      "{\"min\":1,\"max\":1e20}    | max"})
  void aScaleNeedsTwoWholeNumbers(String json, String param) {
    ApiError e = refused(json, AdminBodies.Scale.class, ApiError.Kind.INVALID_SCALE, Set.of("min", "max"));
    assertEquals("invalid_scale", e.kind().code());
    assertEquals(param, e.param());
  }

  @Test void aValidScaleBinds() {
    var s = AdminBodies.bind("{\"min\":0,\"max\":3}", AdminBodies.Scale.class, ApiError.Kind.INVALID_SCALE, Set.of("min", "max"));
    assertEquals(new AdminBodies.Scale(0, 3), s);
  }
}
