package sluice.agent.wire;

import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;

/** Reads and writes {@link Frame}s, rejecting anything outside the protocol before allocating for it. */
public final class FrameCodec {
  private FrameCodec() {}

  public static void write(OutputStream out, Frame frame) throws IOException {
    ByteBuffer header = ByteBuffer.allocate(Frame.HEADER_BYTES)
        .put((byte) Frame.VERSION)
        .put((byte) frame.type().code())
        .putShort((short) frame.flags())
        .putInt(frame.streamId())
        .putInt(frame.length());
    out.write(header.array());
    out.write(frame.payload());
  }

  /**
   * Reads one frame. Returns null on a clean end of input between frames; throws {@link EOFException} when the input
   * ends inside a frame and {@link ProtocolException} for a frame no conforming peer sends.
   */
  public static Frame read(DataInputStream in, Limits limits) throws IOException {
    byte[] header = new byte[Frame.HEADER_BYTES];
    int first = in.read(header, 0, 1);
    if (first < 0) return null;
    in.readFully(header, 1, Frame.HEADER_BYTES - 1);
    ByteBuffer h = ByteBuffer.wrap(header);
    int version = h.get() & 0xff;
    int typeCode = h.get() & 0xff;
    int flags = h.getShort() & 0xffff;
    int streamId = h.getInt();
    long length = Integer.toUnsignedLong(h.getInt());

    if (version != Frame.VERSION) throw new ProtocolException("unsupported frame version " + version);
    FrameType type = FrameType.ofCode(typeCode);
    if (type == null) throw new ProtocolException("unknown frame type " + typeCode);
    if ((flags & ~(Frame.SYN | Frame.ACK | Frame.FIN)) != 0) throw new ProtocolException("unknown flags " + flags);
    if (streamId < 0) throw new ProtocolException("stream id out of range");
    if (type.isSessionFrame() != (streamId == 0)) {
      throw new ProtocolException(type + " on " + (streamId == 0 ? "the session" : "stream " + streamId));
    }
    long max = switch (type) {
      case DATA -> limits.maxDataFrame();
      case WINDOW_UPDATE -> 4;
      case PING -> 8;
      default -> limits.maxHeadBytes();
    };
    if (length > max) throw new ProtocolException(type + " payload of " + length + " bytes exceeds " + max);
    if ((type == FrameType.WINDOW_UPDATE && length != 4) || (type == FrameType.PING && length != 8)) {
      throw new ProtocolException(type + " payload must be " + max + " bytes, was " + length);
    }
    byte[] payload = new byte[(int) length];
    in.readFully(payload);
    return new Frame(type, flags, streamId, payload);
  }

  /** Reads exactly one frame from a stream that must not end first; used by tests and the handshake. */
  public static Frame readRequired(InputStream in, Limits limits) throws IOException {
    Frame f = read(in instanceof DataInputStream d ? d : new DataInputStream(in), limits);
    if (f == null) throw new EOFException("input ended before a frame");
    return f;
  }
}
