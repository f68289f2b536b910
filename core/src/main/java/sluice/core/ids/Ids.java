package sluice.core.ids;

/** How the id types quote a refused value: cut short and with control characters shown, so a message stays one line. */
final class Ids {
  private static final int MAX_QUOTED = 80;

  private Ids() {}

  static String quote(String value) {
    if (value == null) return "(none)";
    StringBuilder b = new StringBuilder("'");
    value.codePoints().limit(MAX_QUOTED).forEach(c -> {
      if (Character.isISOControl(c)) b.append(String.format("\\u%04x", c));
      else b.appendCodePoint(c);
    });
    if (value.codePointCount(0, value.length()) > MAX_QUOTED) b.append("...");
    return b.append('\'').toString();
  }
}
