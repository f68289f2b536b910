package sluice.core.ids;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The one rule of each id, the message that explains it, and the plain-string JSON form. */
class IdsTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @ParameterizedTest
  @ValueSource(strings = {"alice", "alice@uni.example", "kc:0f3a", "a.b_c-d+e", "7"})
  void userIds(String id) { assertEquals(id, UserId.of(id).value()); }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "al/ice", "-x", ".x", "bad id!", "é"})
  void notUserIds(String id) {
    var e = assertThrows(IllegalArgumentException.class, () -> UserId.of(id));
    assertTrue(e.getMessage().startsWith("invalid user id '" + id + "': "), e.getMessage());
  }

  @Test void userIdsAreAtMost128Characters() {
    UserId.of("a".repeat(128));
    assertThrows(IllegalArgumentException.class, () -> UserId.of("a".repeat(129)));
    assertThrows(IllegalArgumentException.class, () -> UserId.of(null));
  }

  @ParameterizedTest
  @ValueSource(strings = {"staff", "/org/unit", "Domain Users", "Forschung-Ä", "0"})
  void groupNames(String g) { assertEquals(g, GroupName.of(g).value()); }

  @ParameterizedTest
  @ValueSource(strings = {"", " ", "-x", " staff", "staff ", "a\tb", "a\nb", "#admins"})
  void notGroupNames(String g) {
    var e = assertThrows(IllegalArgumentException.class, () -> GroupName.of(g));
    assertTrue(e.getMessage().startsWith("invalid group "), e.getMessage());
    assertFalse(e.getMessage().contains("\n") || e.getMessage().contains("\t"), "one line: " + e.getMessage());
  }

  @Test void groupNamesAreAtMost256Characters() {
    GroupName.of("g".repeat(256));
    assertThrows(IllegalArgumentException.class, () -> GroupName.of("g".repeat(257)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"llama-3.1-8b", "mock-llm", "Qwen2.5_72B", "m"})
  void serviceIds(String id) { assertEquals(id, ServiceId.of(id).value()); }

  @ParameterizedTest
  @ValueSource(strings = {"", "a/b", "bad:model", ".hidden", "bad model"})
  void notServiceIds(String id) {
    var e = assertThrows(IllegalArgumentException.class, () -> ServiceId.of(id));
    assertTrue(e.getMessage().startsWith("invalid model '" + id + "'"), e.getMessage());
  }

  @Test void keyIdsStartWithKeyAndASecretIsNeverRepeated() {
    assertEquals("key_0123abcd", KeyId.of("key_0123abcd").value());
    assertTrue(KeyId.random().value().matches("key_[0-9a-f]{24}"));
    assertTrue(assertThrows(IllegalArgumentException.class, () -> KeyId.of("42")).getMessage().startsWith("invalid key id '42'"));
    var secret = assertThrows(IllegalArgumentException.class, () -> KeyId.of("sk-sluice-very-secret"));
    assertTrue(secret.getMessage().contains("that is a key's secret, not its id"), secret.getMessage());
    assertFalse(secret.getMessage().contains("very-secret"), secret.getMessage());
  }

  @Test void keyNamesMayBeEmptyButNotBlank() {
    assertEquals("", KeyName.NONE.value());
    assertEquals("laptop", KeyName.of("laptop").value());
    KeyName.of("n".repeat(128));
    for (String bad : List.of(" ", "n".repeat(129), "a\u0007b")) {
      assertTrue(assertThrows(IllegalArgumentException.class, () -> KeyName.of(bad)).getMessage().startsWith("invalid key name"));
    }
  }

  @Test void aRefusedValueIsQuotedOnOneLineAndCutShort() {
    var e = assertThrows(IllegalArgumentException.class, () -> UserId.of("x\n" + "y".repeat(200)));
    assertTrue(e.getMessage().contains("'x\\u000a"), e.getMessage());
    assertTrue(e.getMessage().contains("...'"), e.getMessage());
  }

  record Holder(UserId user, GroupName group, KeyId key, KeyName name, ServiceId model) {}

  @Test void inJsonEachIsAPlainString() throws Exception {
    Holder h = new Holder(UserId.of("alice"), GroupName.of("/org/unit"), KeyId.of("key_1"), KeyName.of("ci"), ServiceId.of("m1"));
    String json = JSON.writeValueAsString(h);
    assertEquals("{\"user\":\"alice\",\"group\":\"/org/unit\",\"key\":\"key_1\",\"name\":\"ci\",\"model\":\"m1\"}", json);
    assertEquals(h, JSON.readValue(json, Holder.class));
    assertThrows(Exception.class, () -> JSON.readValue(json.replace("alice", "bad id"), Holder.class), "decoding checks the rule");
  }
}
