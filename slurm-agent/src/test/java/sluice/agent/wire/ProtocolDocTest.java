package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** docs/protocol.md §6 and {@link ProblemCode} list the same codes, so neither can change without the other. */
class ProtocolDocTest {
  /** The module's directory is the working directory of its tests. */
  private static final Path DOC = Path.of("../docs/protocol.md");

  /** The rows of §6's table: code → "sent by" column. */
  private static Map<String, String> documentedCodes() throws IOException {
    List<String> lines = Files.readAllLines(DOC);
    int start = -1;
    for (int i = 0; i < lines.size() && start < 0; i++) if (lines.get(i).startsWith("## 6. ")) start = i;
    if (start < 0) throw new AssertionError(DOC + " has no section \"## 6.\"");
    Map<String, String> rows = new LinkedHashMap<>();
    for (int i = start + 1; i < lines.size() && !lines.get(i).startsWith("## "); i++) {
      String line = lines.get(i).strip();
      if (!line.startsWith("| `")) continue;               // prose, the header row and the |---| row
      String[] cells = line.substring(1).split("\\|");
      String code = cells[0].strip();
      if (!code.matches("`[a-z_]+`")) throw new AssertionError("not a code cell in §6: " + line);
      String name = code.substring(1, code.length() - 1);
      if (rows.put(name, cells[1].strip()) != null) throw new AssertionError(name + " is listed twice in §6");
    }
    return rows;
  }

  @Test void theTableListsExactlyTheCodesOfTheEnum() throws IOException {
    Set<String> documented = new TreeSet<>(documentedCodes().keySet());
    assertFalse(documented.isEmpty(), "no table rows found in §6 of " + DOC);
    Set<String> inCode =
        Arrays.stream(ProblemCode.values()).map(ProblemCode::wire).collect(Collectors.toCollection(TreeSet::new));
    assertEquals(inCode, documented, "docs/protocol.md §6 and ProblemCode disagree");
  }

  @Test void theTableMarksExactlyTheLocalCodesAsLocal() throws IOException {
    Map<String, Boolean> documented = new TreeMap<>();
    documentedCodes().forEach((code, sentBy) -> documented.put(code, sentBy.equals("local")));
    Map<String, Boolean> inCode = new TreeMap<>();
    for (ProblemCode c : ProblemCode.values()) inCode.put(c.wire(), c.isLocal());
    assertEquals(inCode, documented, "the \"sent by\" column of §6 and ProblemCode.isLocal() disagree");
  }
}
