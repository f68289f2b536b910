package sluice.bridge;

import java.io.IOException;

/** Opens a fresh connection to an agent. Blocking; the link calls it on a blocking executor. */
@FunctionalInterface
public interface AgentTransport {
  AgentConnection connect() throws IOException;
}
