package sluice.agent.wire;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * One frame: a 12-byte header (version u8, type u8, flags u16, stream id u32, payload length u32, all big-endian)
 * followed by the payload. Instances are immutable once handed to the codec; the payload array is not copied.
 */
public record Frame(FrameType type, int flags, int streamId, byte[] payload) {
  public static final int VERSION = 1;
  public static final int HEADER_BYTES = 12;

  public static final int SYN = 0x1;
  public static final int ACK = 0x2;
  public static final int FIN = 0x4;
  private static final int KNOWN_FLAGS = SYN | ACK | FIN;
  private static final byte[] EMPTY = new byte[0];

  public Frame {
    if (type == null) throw new IllegalArgumentException("frame type is required");
    if ((flags & ~KNOWN_FLAGS) != 0) throw new IllegalArgumentException("unknown flags: " + flags);
    if (streamId < 0) throw new IllegalArgumentException("stream id out of range: " + streamId);
    if (payload == null) payload = EMPTY;
  }

  public boolean has(int flag) { return (flags & flag) != 0; }

  public int length() { return payload.length; }

  public static Frame data(int streamId, byte[] bytes, boolean fin) {
    return new Frame(FrameType.DATA, fin ? FIN : 0, streamId, bytes);
  }

  public static Frame windowUpdate(int streamId, int delta) {
    return new Frame(FrameType.WINDOW_UPDATE, 0, streamId, ByteBuffer.allocate(4).putInt(delta).array());
  }

  public static Frame ping(boolean ack, long opaque) {
    return new Frame(FrameType.PING, ack ? ACK : SYN, 0, ByteBuffer.allocate(8).putLong(opaque).array());
  }

  public static Frame json(FrameType type, int flags, int streamId, String json) {
    return new Frame(type, flags, streamId, json.getBytes(StandardCharsets.UTF_8));
  }

  /** The u32 credit delta of a WINDOW_UPDATE, or the opaque value of a PING. */
  public long number() {
    return payload.length == 4 ? Integer.toUnsignedLong(ByteBuffer.wrap(payload).getInt()) : ByteBuffer.wrap(payload).getLong();
  }

  @Override public String toString() {
    return type + "(stream=" + streamId + ", flags=" + flags + ", length=" + payload.length + ")";
  }
}
