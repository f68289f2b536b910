package sluice.edge.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Optional;
import java.util.Set;
import java.util.UUID;
import org.junit.jupiter.api.Test;

class RequestIdsTest {
  @Test void idsAreVersionFourUuidsThatDoNotRepeat() {
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < 100_000; i++) {
      String id = RequestIds.next();
      UUID u = UUID.fromString(id);
      assertEquals(4, u.version(), id);
      assertEquals(2, u.variant(), id);
      assertTrue(seen.add(id), "repeated: " + id);
    }
  }

  @Test void aRequestWithoutItsOwnIdGetsOne() {
    assertEquals(4, UUID.fromString(EdgeDirectives.requestId(Optional.empty())).version());
    assertEquals("client-7", EdgeDirectives.requestId(Optional.of("client-7")));
  }
}
