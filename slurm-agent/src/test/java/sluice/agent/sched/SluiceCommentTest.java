package sluice.agent.sched;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SluiceCommentTest {
  @Test void roundTrips() {
    SluiceComment c = new SluiceComment("llama-3.1-8b", "llama-3.1-8b.0123456789abcdef", 31337);
    assertEquals("sluice/1 service=llama-3.1-8b tag=llama-3.1-8b.0123456789abcdef port=31337", c.encode());
    assertEquals(Optional.of(c), SluiceComment.decode(c.encode()));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "(null)", "sluice/1", "sluice/1 service=m tag=t", "sluice/1 service=m tag=t port=",
      "sluice/1 service=m tag=t port=0", "sluice/1 service=m tag=t port=99999", "sluice/1 service=m tag=t port=080",
      " sluice/1 service=m tag=t port=80", "sluice/1 service=m tag=t port=80\n", "sluice/1 tag=t service=m port=80",
      "sluice/1 service=m tag=-t port=80", "sluice/1 service=m;id tag=t port=80", "sluice/1  service=m tag=t port=80"})
  void anythingElseIsForeign(String comment) {
    assertEquals(Optional.empty(), SluiceComment.decode(comment));
  }

  @Test void refusesToEncodeWhatItCouldNotDecode() {
    assertThrows(IllegalArgumentException.class, () -> new SluiceComment("m", "a b", 80));
    assertThrows(IllegalArgumentException.class, () -> new SluiceComment("m|x", "t", 80));
    assertThrows(IllegalArgumentException.class, () -> new SluiceComment("m", "t", 0));
  }
}
