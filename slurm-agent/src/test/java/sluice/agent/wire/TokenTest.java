package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import java.util.function.Predicate;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The protocol's field checks ({@link Token}, {@link Messages#isPath}) accept exactly what the regexes they replaced
 * accepted. Each check is compared with its regex on generated strings: mostly allowed characters (so that many match),
 * some of any other kind (controls, spaces, quotes, non-ASCII), at lengths around every bound.
 */
class TokenTest {
  private static final String ASCII = asciiAll();
  private static final String OTHERS = "é\u2028\uFF0F\u0000\u00a0 \"<>\\^`{|}#[]?/.";

  @Test void serviceAndTag() {
    Pattern regex = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");
    same(regex, Messages.SERVICE::matches, "Aa0._-", 130);
    same(regex, Messages.TAG::matches, "Zz9.-_", 130);
  }

  @Test void jobId() { same(Pattern.compile("[0-9]{1,18}"), Messages.JOB_ID::matches, "0123456789", 20); }

  @Test void requestId() { same(Pattern.compile("[A-Za-z0-9._:-]{1,128}"), Messages.REQUEST_ID::matches, "aZ0._:-", 130); }

  @Test void headerName() { same(Pattern.compile("[a-z0-9-]{1,64}"), Messages.HEADER_NAME::matches, "az09-", 66); }

  @Test void path() {
    Pattern regex = Pattern.compile("/[A-Za-z0-9._~!$&'()*+,;=:@%/-]{0,2047}(\\?[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,2047})?");
    same(regex, Messages::isPath, "/aZ09._~!$&'()*+,;=:@%/-?", 4200);
    assertTrue(Messages.isPath("/v1/chat/completions?x=1&y=a?b"));
    assertFalse(Messages.isPath("v1/chat"));
    assertFalse(Messages.isPath("/" + "a".repeat(2048)));
    assertTrue(Messages.isPath("/" + "a".repeat(2047) + "?" + "b".repeat(2047)));
  }

  private static void same(Pattern regex, Predicate<String> check, String allowed, int maxLength) {
    Random random = new Random(16);
    int matched = 0;
    for (int i = 0; i < 20_000; i++) {
      int length = i % 10 == 0 ? maxLength - 3 + random.nextInt(6) : random.nextInt(Math.min(maxLength, 40));
      StringBuilder s = new StringBuilder(length);
      for (int j = 0; j < length; j++) {
        int kind = random.nextInt(100);
        String from = kind < 97 ? allowed : kind < 99 ? ASCII : OTHERS;
        s.append(from.charAt(random.nextInt(from.length())));
      }
      if (i % 7 == 0 && s.length() > 0) s.setCharAt(0, '/');
      String candidate = s.toString();
      boolean expected = regex.matcher(candidate).matches();
      assertEquals(expected, check.test(candidate), () -> "for " + escape(candidate));
      if (expected) matched++;
    }
    assertTrue(matched > 1_000, "enough strings matched to compare acceptance too: " + matched);
  }

  private static String asciiAll() {
    StringBuilder b = new StringBuilder();
    for (char c = 0; c < 128; c++) b.append(c);
    return b.toString();
  }

  private static String escape(String s) {
    StringBuilder b = new StringBuilder();
    s.chars().forEach(c -> b.append(c >= 0x20 && c < 0x7f ? String.valueOf((char) c) : String.format("\\u%04x", c)));
    return b.toString();
  }
}
