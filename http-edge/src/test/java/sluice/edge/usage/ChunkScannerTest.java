package sluice.edge.usage;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The hand-written chunk reader must say what Jackson says, byte for byte, on every chunk it decides itself. */
class ChunkScannerTest {
  static final List<String> CHUNKS = List.of(
      "{\"id\":\"chatcmpl-1\",\"object\":\"chat.completion.chunk\",\"created\":1796609930,\"model\":\"m\","
          + "\"choices\":[{\"index\":0,\"delta\":{\"content\":\" brown\"},\"logprobs\":null,\"finish_reason\":null}],\"usage\":null}",
      "{\"id\":\"c\",\"choices\":[],\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":30,\"total_tokens\":42}}",
      "{\"id\":\"c\",\"choices\":[{\"index\":0,\"delta\":{\"role\":\"assistant\",\"content\":\"\"}}]}",
      "{\"choices\":[{\"delta\":{\"tool_calls\":[{\"index\":0,\"function\":{\"name\":\"f\",\"arguments\":\"{\\\"a\\\": 1}\"}}]}}],"
          + "\"usage\":{\"prompt_tokens\":1,\"completion_tokens\":2}}",
      "{\"choices\":[{\"delta\":{\"reasoning_content\":\"caf\\u00e9 \u2615 \uD83D\uDE00\"},\"finish_reason\":null}],\"x\":-1.5e-3}",
      "{\"choices\":[{\"text\":\"t\",\"index\":0,\"logprobs\":{\"tokens\":[\"t\"],\"token_logprobs\":[-0.25]}}],\"usage\":null}",
      " { \"usage\" : { \"prompt_tokens\" : 3 , \"completion_tokens\" : 1 } , \"choices\" : [ { } , 7 , [ ] ] , \"z\" : true } ",
      "{\"usage\":[1,{\"prompt_tokens\":2}],\"choices\":[{\"delta\":{\"reasoning\":\"so\",\"tool_calls\":[]}}],\"n\":false}",
      "{\"usage\":{\"prompt_tokens\":-0,\"completion_tokens\":0.0},\"choices\":[{\"delta\":{}}]}",
      "{\"usage\":null,\"usage\":{\"prompt_tokens\":5},\"choices\":[{\"text\":\"\"}],\"e\":{\"a\":{\"b\":[null,\"\\n\\t\\\\\\/\"]}}}",
      "{}");

  @Test
  void everyChunkAndThousandsOfDamagedOnesReadAsJacksonReadsThem() throws Exception {
    Random random = new Random(16);
    byte[] palette = "{}[]\":,\\ \t\r\n0123456789-+.eEtrufalsnu/bxz".getBytes(StandardCharsets.US_ASCII);
    byte[] odd = {0, 0x1f, (byte) 0x80, (byte) 0xc3, (byte) 0xa9, (byte) 0xe2, (byte) 0xf0, (byte) 0xf8, (byte) 0xff, (byte) 0xef};
    int decided = 0;
    int valid = 0;
    int invalid = 0;
    for (String chunk : CHUNKS) {
      byte[] original = chunk.getBytes(StandardCharsets.UTF_8);
      for (int round = 0; round < 3000; round++) {
        byte[] damaged = round == 0 ? original : damage(original, random, palette, odd);
        EventJson expected = jacksonOrNull(damaged);
        EventJson actual;
        try {
          actual = ChunkScanner.scan(damaged, 0, damaged.length);
        } catch (ChunkScanner.Unusual unusual) {
          continue;
        }
        decided++;
        if (actual == null) invalid++;
        else valid++;
        assertEquals(expected, actual, () -> "chunk: " + new String(damaged, StandardCharsets.ISO_8859_1));
        if (round == 0) assertNotNull(actual, chunk);
      }
    }
    // The comparison must have covered both outcomes, and the scanner must decide nearly everything itself.
    assertTrue(valid > 2_000 && invalid > 10_000, "valid " + valid + ", invalid " + invalid);
    assertTrue(decided > CHUNKS.size() * 3000 * 9 / 10, "decided " + decided);
  }

  @Test
  void aChunkInsideALargerBufferIsReadWithOffsetsFromItsStart() throws Exception {
    byte[] line = "data: {\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}\n\n".getBytes(StandardCharsets.UTF_8);
    int from = "data: ".length();
    EventJson e = ChunkScanner.scan(line, from, line.length - 2);
    assertEquals(jacksonOrNull("{\"choices\":[{\"delta\":{\"content\":\"a\"}}],\"usage\":null}".getBytes(StandardCharsets.UTF_8)), e);
    assertTrue(e.content() && e.usageIsNull());
  }

  @Test
  void whatItCannotDecideGoesToJackson() throws Exception {
    byte[] escapedName = "{\"us\\u0061ge\":null,\"choices\":[]}".getBytes(StandardCharsets.UTF_8);
    assertThrows(ChunkScanner.Unusual.class, () -> ChunkScanner.scan(escapedName, 0, escapedName.length));
    EventJson e = EventJson.scan(escapedName, 0, escapedName.length);
    assertEquals(1, e.usageMembers(), "Jackson decodes the name: it is the usage member");

    byte[] bigCount = "{\"usage\":{\"prompt_tokens\":9223372036854775807,\"completion_tokens\":1}}".getBytes(StandardCharsets.UTF_8);
    assertThrows(ChunkScanner.Unusual.class, () -> ChunkScanner.scan(bigCount, 0, bigCount.length));
    assertEquals(new TokenUsage(Long.MAX_VALUE, 1), EventJson.scan(bigCount, 0, bigCount.length).usage());

    byte[] deep = ("{\"a\":" + "[".repeat(200) + "]".repeat(200) + "}").getBytes(StandardCharsets.UTF_8);
    assertThrows(ChunkScanner.Unusual.class, () -> ChunkScanner.scan(deep, 0, deep.length));
    assertNotNull(EventJson.scan(deep, 0, deep.length));

    byte[] notAnObject = "[1]".getBytes(StandardCharsets.UTF_8);
    assertNull(EventJson.scan(notAnObject, 0, notAnObject.length));
  }

  private static EventJson jacksonOrNull(byte[] json) {
    try {
      return EventJson.jackson(json);
    } catch (Exception refused) {
      return null;
    }
  }

  /** One to three edits: a byte deleted, replaced or inserted, a slice repeated, or the end cut off. */
  private static byte[] damage(byte[] original, Random random, byte[] palette, byte[] odd) {
    byte[] b = original;
    for (int edits = 1 + random.nextInt(3); edits > 0; edits--) {
      ByteArrayOutputStream out = new ByteArrayOutputStream();
      int at = random.nextInt(b.length + 1);
      byte x = random.nextInt(8) == 0 ? odd[random.nextInt(odd.length)] : palette[random.nextInt(palette.length)];
      switch (random.nextInt(5)) {
        case 0 -> { out.write(b, 0, at); if (at < b.length) out.write(b, at + 1, b.length - at - 1); }
        case 1 -> { out.write(b, 0, at); out.write(x); if (at < b.length) out.write(b, at + 1, b.length - at - 1); }
        case 2 -> { out.write(b, 0, at); out.write(x); out.write(b, at, b.length - at); }
        case 3 -> { int len = Math.min(b.length - at, 1 + random.nextInt(8)); out.write(b, 0, at + len); out.write(b, at, b.length - at); }
        default -> out.write(b, 0, at);
      }
      b = out.toByteArray();
    }
    return b;
  }
}
