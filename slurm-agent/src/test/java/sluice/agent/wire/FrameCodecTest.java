package sluice.agent.wire;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class FrameCodecTest {
  private static final Limits LIMITS = Limits.DEFAULT;

  private static byte[] encode(Frame f) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    FrameCodec.write(out, f);
    return out.toByteArray();
  }

  private static Frame decode(byte[] bytes) throws IOException {
    return FrameCodec.read(new DataInputStream(new ByteArrayInputStream(bytes)), LIMITS);
  }

  private static byte[] header(int version, int type, int flags, int stream, long length) {
    return ByteBuffer.allocate(12).put((byte) version).put((byte) type).putShort((short) flags).putInt(stream)
        .putInt((int) length).array();
  }

  @Test void headerLayoutIsBigEndianTwelveBytes() throws IOException {
    byte[] bytes = encode(Frame.data(7, "hi".getBytes(StandardCharsets.US_ASCII), true));
    assertArrayEquals(new byte[] {1, 0, 0, 4, 0, 0, 0, 7, 0, 0, 0, 2, 'h', 'i'}, bytes);
  }

  @Test void everyFrameTypeRoundTrips() throws IOException {
    Frame[] frames = {
        Frame.data(1, new byte[] {1, 2, 3}, false),
        Frame.data(3, new byte[0], true),
        Frame.windowUpdate(5, 65_536),
        Frame.ping(false, 42),
        Frame.ping(true, Long.MAX_VALUE),
        Frame.json(FrameType.HEADERS, Frame.SYN | Frame.FIN, 9, "{\"op\":\"jobs\"}"),
        Frame.json(FrameType.RESET, 0, 9, "{\"code\":\"cancelled\"}"),
        Frame.json(FrameType.GO_AWAY, 0, 0, "{\"code\":\"normal\"}"),
        Frame.json(FrameType.HELLO, 0, 0, "{}")};
    for (Frame f : frames) {
      Frame back = decode(encode(f));
      assertEquals(f.type(), back.type());
      assertEquals(f.flags(), back.flags());
      assertEquals(f.streamId(), back.streamId());
      assertArrayEquals(f.payload(), back.payload());
    }
    assertEquals(65_536, decode(encode(Frame.windowUpdate(5, 65_536))).number());
    assertEquals(42, decode(encode(Frame.ping(false, 42))).number());
  }

  @Test void cleanEndBetweenFramesIsNull() throws IOException {
    assertNull(decode(new byte[0]));
  }

  @Test void truncatedHeaderOrPayloadIsEof() {
    assertThrows(EOFException.class, () -> decode(new byte[] {1, 0, 0}));
    byte[] full = header(1, 0, 0, 1, 10);
    byte[] truncated = ByteBuffer.allocate(15).put(full).put(new byte[] {1, 2, 3}).array();
    assertThrows(EOFException.class, () -> decode(truncated));
  }

  @Test void malformedHeadersAreProtocolErrors() {
    assertThrows(ProtocolException.class, () -> decode(header(2, 0, 0, 1, 0)), "version");
    assertThrows(ProtocolException.class, () -> decode(header(1, 9, 0, 1, 0)), "type");
    assertThrows(ProtocolException.class, () -> decode(header(1, 0, 0x80, 1, 0)), "flags");
    assertThrows(ProtocolException.class, () -> decode(header(1, 2, Frame.SYN, 3, 8)), "PING on a stream");
    assertThrows(ProtocolException.class, () -> decode(header(1, 0, 0, 0, 0)), "DATA on the session");
    assertThrows(ProtocolException.class, () -> decode(header(1, 1, 0, 1, 3)), "WINDOW_UPDATE size");
    assertThrows(ProtocolException.class, () -> decode(header(1, 0, 0, -1 & 0x7fffffff | 0x80000000, 0)), "id sign bit");
  }

  @Test void oversizedLengthIsRejectedBeforeAllocating() {
    // A 4 GiB length must fail on the header alone: nothing follows it in the input.
    ProtocolException e = assertThrows(ProtocolException.class, () -> decode(header(1, 0, 0, 1, 0xffffffffL)));
    assertTrue(e.getMessage().contains("exceeds"), e.getMessage());
    assertThrows(ProtocolException.class, () -> decode(header(1, 4, Frame.SYN, 1, LIMITS.maxHeadBytes() + 1)));
  }
}
