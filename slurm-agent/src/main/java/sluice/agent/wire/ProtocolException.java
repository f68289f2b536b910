package sluice.agent.wire;

import java.io.IOException;

/** The peer broke the protocol; the session answers with GO_AWAY and closes. */
public final class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  public ProtocolException(String message) { super(message); }
}
