package sluice.agent.wire;

import java.util.regex.Pattern;

/**
 * A field of the protocol that must be a short ASCII token: {@code min..max} characters, the first from one character
 * class and the rest from another. The classes are written as regex classes and evaluated once per ASCII character into
 * a table, so a check is a table lookup per character. The gateway and the agent check every forwarded request's
 * fields; as regexes these checks took 3 % of the gateway's CPU at 64 clients (JFR), most of it in character-class
 * unions. MessagesTest checks each rule against the regex it replaced on generated strings.
 */
final class Token {
  private final int min;
  private final int max;
  private final boolean[] first;
  private final boolean[] rest;

  private Token(int min, int max, String firstClass, String restClass) {
    this.min = min;
    this.max = max;
    this.first = table(firstClass);
    this.rest = table(restClass);
  }

  /** {@code min..max} characters, the first of {@code firstClass}, the others of {@code restClass} (regex classes). */
  static Token of(int min, int max, String firstClass, String restClass) {
    return new Token(min, max, firstClass, restClass);
  }

  static Token of(int min, int max, String charClass) {
    return new Token(min, max, charClass, charClass);
  }

  /** Whether {@code s} is such a token. */
  boolean matches(String s) {
    return matches(s, 0, s.length());
  }

  /** Whether {@code s[from, to)} is such a token. */
  boolean matches(String s, int from, int to) {
    int n = to - from;
    if (n < min || n > max) return false;
    for (int i = from; i < to; i++) {
      char c = s.charAt(i);
      if (c >= 128 || !(i == from ? first : rest)[c]) return false;
    }
    return true;
  }

  private static boolean[] table(String charClass) {
    Pattern p = Pattern.compile(charClass);
    boolean[] t = new boolean[128];
    for (char c = 0; c < 128; c++) t[c] = p.matcher(String.valueOf(c)).matches();
    return t;
  }
}
