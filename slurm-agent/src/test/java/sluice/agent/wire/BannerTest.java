package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.BufferedInputStream;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class BannerTest {
  private static InputStream input(String s) {
    return new BufferedInputStream(new ByteArrayInputStream(s.getBytes(StandardCharsets.UTF_8)));
  }

  @Test void rcFileNoiseBeforeTheBannerIsSkippedAndReported() throws IOException {
    InputStream in = input("Welcome to the cluster!\nLmod: loaded 3 modules\n" + Banner.TEXT + "rest");
    assertEquals("Welcome to the cluster!\nLmod: loaded 3 modules\n", Banner.skipTo(in, 1024));
    assertEquals("rest", new String(in.readAllBytes(), StandardCharsets.UTF_8), "nothing after the banner is consumed");
  }

  @Test void partialMatchesInsideNoiseDoNotHideTheBanner() throws IOException {
    InputStream in = input("SLUICE-SSLUICE-AGENT mux/2\n" + Banner.TEXT + "x");
    assertEquals("SLUICE-SSLUICE-AGENT mux/2\n", Banner.skipTo(in, 1024));
    assertEquals('x', in.read());
  }

  @Test void endOfInputBeforeTheBannerNamesWhatWasPrinted() {
    ProtocolException e = assertThrows(ProtocolException.class, () -> Banner.skipTo(input("bash: sluice: command not found\n"), 1024));
    assertTrue(e.getMessage().contains("command not found"), e.getMessage());
  }

  @Test void tooMuchNoiseIsRefused() {
    assertThrows(ProtocolException.class, () -> Banner.skipTo(input("x".repeat(5000) + Banner.TEXT), 4096));
  }
}
