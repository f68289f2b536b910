package sluice.edge;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeMap;

/**
 * Reads Prometheus' text exposition format (version 0.0.4) into {@code name{label="value",...} → value}, labels in
 * alphabetical order, so a test names a series the same way whatever order the writer chose. Comments are skipped;
 * an unreadable line fails the test, since a scraper would choke on it too.
 */
final class Exposition {
  private Exposition() {}

  static Map<String, Double> parse(String text) {
    Map<String, Double> out = new LinkedHashMap<>();
    for (String line : text.split("\n")) {
      if (line.isBlank() || line.startsWith("#")) continue;
      int brace = line.indexOf('{');
      int space = line.indexOf(' ');
      String name;
      Map<String, String> labels = new TreeMap<>();
      int rest;
      if (brace >= 0 && brace < space) {
        name = line.substring(0, brace);
        rest = labels(line, brace + 1, labels);
      } else {
        name = line.substring(0, space);
        rest = space;
      }
      String[] valueAndTime = line.substring(rest).trim().split(" ");
      StringBuilder key = new StringBuilder(name);
      if (!labels.isEmpty()) {
        key.append('{');
        labels.forEach((k, v) -> key.append(k).append("=\"").append(v).append("\","));
        key.setCharAt(key.length() - 1, '}');
      }
      if (out.put(key.toString(), value(valueAndTime[0], line)) != null) throw new AssertionError("series twice: " + line);
    }
    return out;
  }

  /** Reads {@code k="v",...}} from {@code i}; returns the index after the closing brace. */
  private static int labels(String line, int i, Map<String, String> labels) {
    while (line.charAt(i) != '}') {
      int eq = line.indexOf('=', i);
      String k = line.substring(i, eq);
      if (line.charAt(eq + 1) != '"') throw new AssertionError("unquoted label value: " + line);
      StringBuilder v = new StringBuilder();
      int j = eq + 2;
      for (; line.charAt(j) != '"'; j++) {
        char c = line.charAt(j);
        if (c == '\\') {
          char n = line.charAt(++j);
          v.append(n == 'n' ? '\n' : n);
        } else {
          v.append(c);
        }
      }
      labels.put(k, v.toString());
      i = j + 1;
      if (line.charAt(i) == ',') i++;
    }
    return i + 1;
  }

  private static double value(String s, String line) {
    return switch (s) {
      case "+Inf" -> Double.POSITIVE_INFINITY;
      case "-Inf" -> Double.NEGATIVE_INFINITY;
      case "NaN" -> Double.NaN;
      default -> {
        try {
          yield Double.parseDouble(s);
        } catch (NumberFormatException e) {
          throw new AssertionError("not a number in: " + line);
        }
      }
    };
  }
}
