package sluice.edge.usage;

/**
 * Reads one completion chunk's JSON for {@link EventJson} in a single pass over its bytes, without Jackson's per-parser
 * setup, token objects and name decoding: every streamed token of every stream passes here, and Jackson's streaming
 * parser cost about 1 µs per chunk and half of the gateway's JFR execution samples under streaming load
 * (docs/architecture.md, step 5a).
 *
 * <p>It accepts and rejects exactly what Jackson's default {@code JsonFactory} does for these payloads (strict JSON:
 * no comments, no leading zeros, no unescaped control characters, valid escapes and UTF-8 sequences, one root value)
 * and reports the same positions; {@code ChunkScannerTest} checks that against Jackson on mutated chunks. What it does
 * not decide itself it hands back as {@link Unusual}, and {@link EventJson#scan} asks Jackson: a member name with an
 * escape or a byte outside printable ASCII, a payload that may not be UTF-8 (a byte-order mark or a NUL among its
 * first bytes), nesting deeper than {@value #MAX_DEPTH}, a count of more than 18 digits, a number of more than
 * {@value #MAX_NUMBER} characters, a payload over {@value #MAX_PAYLOAD} bytes.
 */
final class ChunkScanner {
  static final int MAX_DEPTH = 64;
  static final int MAX_PAYLOAD = 16 * 1024;
  private static final int MAX_NUMBER = 100;

  /** The payload needs Jackson's judgement; never thrown for a payload this class can decide. */
  static final class Unusual extends Exception {
    static final Unusual INSTANCE = new Unusual();

    private Unusual() {
      super(null, null, false, false);
    }
  }

  /** Not JSON, or JSON Jackson would refuse. */
  private static final class Invalid extends Exception {
    static final Invalid INSTANCE = new Invalid();

    private Invalid() {
      super(null, null, false, false);
    }
  }

  private final byte[] b;
  private final int from;
  private final int to;
  private int pos;
  private int nameFrom;                                  // the last member name's raw bytes: b[nameFrom, nameTo)
  private int nameTo;

  private ChunkScanner(byte[] b, int from, int to) {
    this.b = b;
    this.from = from;
    this.to = to;
    this.pos = from;
  }

  /**
   * What {@link EventJson#scan} reports for {@code b[from, to)}, offsets relative to {@code from}; null if it is not a
   * JSON object.
   */
  static EventJson scan(byte[] b, int from, int to) throws Unusual {
    if (to - from > MAX_PAYLOAD) throw Unusual.INSTANCE;
    for (int i = from; i < Math.min(to, from + 4); i++) {
      if (b[i] == 0) throw Unusual.INSTANCE;             // Jackson would try UTF-16 or UTF-32
    }
    if (from < to && (b[from] & 0xFF) == 0xEF) throw Unusual.INSTANCE;   // a byte-order mark
    try {
      return new ChunkScanner(b, from, to).chunk();
    } catch (Invalid notJson) {
      return null;
    }
  }

  private EventJson chunk() throws Invalid, Unusual {
    skipSpace();
    if (peek() != '{') throw Invalid.INSTANCE;
    TokenUsage usage = null;
    int usageMembers = 0;
    boolean usageIsNull = false;
    int choices = -1;
    boolean content = false;
    int nameStart = -1;
    int valueStart = -1;
    int valueEnd = -1;
    int prevValueEnd = -1;
    int nextNameStart = -1;
    int lastValueEnd = -1;
    boolean afterUsage = false;
    if (opened('}')) {
      do {
        int memberStart = pos;
        if (afterUsage) {
          nextNameStart = memberStart - from;
          afterUsage = false;
        }
        name();
        int start = pos;
        if (nameIs("usage")) {
          usageMembers++;
          usageIsNull = startsWith("null");
          usage = null;
          if (peek() == '{') usage = usage();
          else skipValue(1);
          nameStart = memberStart - from;
          valueStart = start - from;
          valueEnd = pos - from;
          prevValueEnd = lastValueEnd;
          nextNameStart = -1;
          afterUsage = true;
        } else if (nameIs("choices") && peek() == '[') {
          choices = 0;
          if (opened(']')) {
            do {
              choices++;
              if (peek() == '{') content |= choice();
              else skipValue(2);
            } while (!endOfList(']'));
          }
        } else {
          skipValue(1);
        }
        lastValueEnd = pos - from;
      } while (!endOfList('}'));
    }
    skipSpace();
    if (pos != to) throw Invalid.INSTANCE;               // trailing bytes or a second root value
    return new EventJson(usage, usageMembers, usageIsNull, choices, content,
        nameStart, valueStart, valueEnd, prevValueEnd, nextNameStart);
  }

  /** A usage object: prompt_tokens and completion_tokens (0 if absent); null unless both are counts. */
  private TokenUsage usage() throws Invalid, Unusual {
    long prompt = -1;
    long completion = 0;
    if (opened('}')) {
      do {
        name();
        if (nameIs("prompt_tokens")) prompt = count();
        else if (nameIs("completion_tokens")) completion = count();
        else skipValue(2);
      } while (!endOfList('}'));
    }
    return prompt >= 0 && completion >= 0 ? new TokenUsage(prompt, completion) : null;
  }

  /** A choice object carries chat's delta content, reasoning or tool calls, or a text completion's text. */
  private boolean choice() throws Invalid, Unusual {
    boolean content = false;
    if (opened('}')) {
      do {
        name();
        if (nameIs("delta") && peek() == '{') content |= delta();
        else if (nameIs("text")) content |= nonEmptyString(3);
        else skipValue(3);
      } while (!endOfList('}'));
    }
    return content;
  }

  private boolean delta() throws Invalid, Unusual {
    boolean content = false;
    if (opened('}')) {
      do {
        name();
        if (nameIs("content") || nameIs("reasoning_content") || nameIs("reasoning")) {
          content |= nonEmptyString(4);
        } else if (nameIs("tool_calls") && peek() == '[') {
          if (opened(']')) {
            content = true;
            do skipValue(5); while (!endOfList(']'));
          }
        } else {
          skipValue(4);
        }
      } while (!endOfList('}'));
    }
    return content;
  }

  // ---------------------------------------------------------------- grammar

  /**
   * A member name, its colon and the space after it; its raw bytes (without the quotes) are then
   * {@code b[nameFrom, nameTo)}. A name that is not plain printable ASCII goes to Jackson, which decodes names before
   * comparing them.
   */
  private void name() throws Invalid, Unusual {
    if (peek() != '"') throw Invalid.INSTANCE;
    nameFrom = ++pos;
    while (true) {
      if (pos >= to) throw Invalid.INSTANCE;
      byte c = b[pos++];
      if (c == '"') break;
      if (c < 0x20 || c == '\\') throw Unusual.INSTANCE;   // bytes of 0x80 and more are negative
    }
    nameTo = pos - 1;
    skipSpace();
    if (next() != ':') throw Invalid.INSTANCE;
    skipSpace();
  }

  /** The last member name read is {@code expected}. */
  private boolean nameIs(String expected) {
    if (nameTo - nameFrom != expected.length()) return false;
    for (int i = 0; i < expected.length(); i++) if (b[nameFrom + i] != expected.charAt(i)) return false;
    return true;
  }

  /**
   * Steps into the object or array whose opening byte is at {@code pos}: false if it is empty ({@code close} consumed
   * too), true if a member or element follows.
   */
  private boolean opened(char close) {
    pos++;
    skipSpace();
    if (peek() != close) return true;
    pos++;
    return false;
  }

  /** After a value: a comma (more follows) or {@code close} (consumed; true). */
  private boolean endOfList(char close) throws Invalid {
    skipSpace();
    int c = next();
    if (c == close) return true;
    if (c != ',') throw Invalid.INSTANCE;
    skipSpace();
    return false;
  }

  private boolean nonEmptyString(int depth) throws Invalid, Unusual {
    if (peek() != '"') {
      skipValue(depth);
      return false;
    }
    int open = pos;
    skipString();
    return pos - open > 2;                               // every raw byte or escape decodes to at least one char
  }

  /** A non-negative integer count that fits a long, else -1 (Jackson's {@code EventJson.count}). */
  private long count() throws Invalid, Unusual {
    int start = pos;
    int c = peek();
    if (c != '-' && !isDigit(c)) {
      skipValue(2);
      return -1;
    }
    boolean integer = number();
    int digits = pos - start;
    if (!integer || b[start] == '-') return b[start] == '-' && integer && digits == 2 && b[start + 1] == '0' ? 0 : -1;
    if (digits > 18) throw Unusual.INSTANCE;             // Jackson tells a long from a BigInteger
    long n = 0;
    for (int i = start; i < pos; i++) n = n * 10 + (b[i] - '0');
    return n;
  }

  /** Skips one value whose first byte is at {@code pos}; {@code depth} is the nesting of the structure holding it. */
  private void skipValue(int depth) throws Invalid, Unusual {
    int c = peek();
    switch (c) {
      case '"' -> skipString();
      case '{', '[' -> {
        if (depth >= MAX_DEPTH) throw Unusual.INSTANCE;  // Jackson has its own nesting limit
        char close = c == '{' ? '}' : ']';
        if (opened(close)) {
          do {
            if (close == '}') name();
            skipValue(depth + 1);
          } while (!endOfList(close));
        }
      }
      case 't' -> literal("true");
      case 'f' -> literal("false");
      case 'n' -> literal("null");
      default -> {
        if (c == '-' || (c >= '0' && c <= '9')) number();
        else throw Invalid.INSTANCE;
      }
    }
  }

  private boolean startsWith(String literal) {
    if (to - pos < literal.length()) return false;
    for (int i = 0; i < literal.length(); i++) if (b[pos + i] != literal.charAt(i)) return false;
    return true;
  }

  private void literal(String literal) throws Invalid {
    if (!startsWith(literal)) throw Invalid.INSTANCE;
    pos += literal.length();
  }

  /** Skips a JSON number; true if it is an integer (no fraction, no exponent). */
  private boolean number() throws Invalid, Unusual {
    int start = pos;
    if (peek() == '-') pos++;
    int c = peek();
    if (c == '0') {
      pos++;
      if (isDigit(peek())) throw Invalid.INSTANCE;       // a leading zero
    } else if (isDigit(c)) {
      while (isDigit(peek())) pos++;
    } else {
      throw Invalid.INSTANCE;
    }
    boolean integer = true;
    if (peek() == '.') {
      integer = false;
      pos++;
      if (!isDigit(peek())) throw Invalid.INSTANCE;
      while (isDigit(peek())) pos++;
    }
    if (peek() == 'e' || peek() == 'E') {
      integer = false;
      pos++;
      if (peek() == '+' || peek() == '-') pos++;
      if (!isDigit(peek())) throw Invalid.INSTANCE;
      while (isDigit(peek())) pos++;
    }
    if (pos - start > MAX_NUMBER) throw Unusual.INSTANCE;
    return integer;
  }

  private static boolean isDigit(int c) {
    return c >= '0' && c <= '9';
  }

  /** Skips a string whose opening quote is at {@code pos}, checking its escapes and UTF-8 sequences as Jackson does. */
  private void skipString() throws Invalid {
    pos++;
    while (true) {
      if (pos >= to) throw Invalid.INSTANCE;
      int c = b[pos++] & 0xFF;
      if (c == '"') return;
      if (c == '\\') {
        escape();
      } else if (c < 0x20) {
        throw Invalid.INSTANCE;
      } else if (c >= 0x80) {
        int more = (c & 0xE0) == 0xC0 ? 1 : (c & 0xF0) == 0xE0 ? 2 : (c & 0xF8) == 0xF0 ? 3 : -1;
        if (more < 0) throw Invalid.INSTANCE;
        for (int i = 0; i < more; i++) {
          if (pos >= to || (b[pos++] & 0xC0) != 0x80) throw Invalid.INSTANCE;
        }
      }
    }
  }

  private void escape() throws Invalid {
    if (pos >= to) throw Invalid.INSTANCE;
    int c = b[pos++];
    switch (c) {
      case '"', '\\', '/', 'b', 'f', 'n', 'r', 't' -> { }
      case 'u' -> {
        for (int i = 0; i < 4; i++) {
          if (pos >= to || Character.digit(b[pos++], 16) < 0) throw Invalid.INSTANCE;
        }
      }
      default -> throw Invalid.INSTANCE;
    }
  }

  private void skipSpace() {
    while (pos < to) {
      byte c = b[pos];
      if (c != ' ' && c != '\n' && c != '\r' && c != '\t') return;
      pos++;
    }
  }

  private int peek() {
    return pos < to ? b[pos] & 0xFF : -1;
  }

  private int next() throws Invalid {
    if (pos >= to) throw Invalid.INSTANCE;
    return b[pos++] & 0xFF;
  }
}
