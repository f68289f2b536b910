package sluice.core.user;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.typesafe.config.ConfigException;
import com.typesafe.config.ConfigFactory;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

class UserSettingsTest {
  private static UserSettings parse(String hocon) {
    return UserSettings.from(ConfigFactory.parseString(hocon).withFallback(ConfigFactory.defaultReference()).resolve());
  }

  @Test void defaultsAreNoLimitsAndDocumentedTimings() {
    UserSettings s = parse("");
    assertEquals(UserLimits.NONE, s.defaultLimits());
    assertEquals(List.of(), s.groups());
    assertEquals(1024, s.defaultMaxTokens());
    assertEquals(Duration.ofMinutes(15), s.reservationTimeout());
    assertEquals(Duration.ofSeconds(5), s.checkpointInterval());
    assertEquals(Duration.ofMinutes(10), s.idleTimeout());
    assertEquals("jdbc-read-journal", s.readJournal());
    assertEquals("jdbc-durable-state-store", s.countersStore());
    assertEquals(UserLimits.NONE, s.limitsFor(List.of("anything")));
  }

  @Test void aUserGetsTheFirstConfiguredGroupItIsIn() {
    UserSettings s = parse("""
        sluice.users {
          default-limits { requests { minute = 5 } }
          groups = [
            { name = "staff", limits { requests { minute = 120 }, tokens { day = 2000000 }, concurrent = 8,
                                       models { "big-model" { requests { minute = 10 } } } } }
            { name = "students", limits { requests { minute = 20 } } }
            { name = "guests" }
          ]
        }
        """);
    assertEquals(120L, s.limitsFor(List.of("students", "staff")).user().requests().get(Window.MINUTE));
    assertEquals(10L, s.limitsFor(List.of("staff")).forModel("big-model").requests().get(Window.MINUTE));
    assertEquals(8, s.limitsFor(List.of("staff")).user().concurrent());
    assertEquals(20L, s.limitsFor(List.of("students")).user().requests().get(Window.MINUTE));
    // A group's limits replace the defaults, they are not merged with them.
    assertEquals(UserLimits.NONE, s.limitsFor(List.of("guests")));
    assertEquals(5L, s.limitsFor(List.of()).user().requests().get(Window.MINUTE));
    assertEquals(5L, s.limitsFor(List.of("other")).user().requests().get(Window.MINUTE));
  }

  @Test void badValuesFailNamingTheKey() {
    assertMessage("sluice.users.default-limits.requests.minut", "sluice.users.default-limits { requests { minut = 1 } }");
    assertMessage("sluice.users.groups[1].limits.tokens.day", """
        sluice.users.groups = [ { name = a }, { name = b, limits { tokens { day = -1 } } } ]""");
    assertMessage("sluice.users.groups[0].name", "sluice.users.groups = [ { limits {} } ]");
    assertMessage("sluice.users.groups[1].name", "sluice.users.groups = [ { name = a }, { name = a } ]");
    assertMessage("sluice.users.groups[0].limit", "sluice.users.groups = [ { name = a, limit {} } ]");
    assertMessage("sluice.users.groups[0]", "sluice.users.groups = [ \"staff\" ]");
    assertMessage("sluice.users.default-max-tokens", "sluice.users.default-max-tokens = 0");
    assertMessage("sluice.users.checkpoint-interval", "sluice.users.checkpoint-interval = 0s");
    assertMessage("sluice.users.read-journal", "sluice.users.read-journal = \"\"");
    assertMessage("sluice.users.counters-store", "sluice.users.counters-store = \" \"");
  }

  private static void assertMessage(String path, String hocon) {
    var e = assertThrows(ConfigException.class, () -> parse(hocon));
    assertTrue(e.getMessage().contains(path), e.getMessage());
  }
}
