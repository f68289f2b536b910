package sluice.agent.sched;

import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * A secret per job: the agent gives it to the job as {@code SLUICE_JOB_TOKEN}, the job's model server requires it
 * (vLLM's and mock-llm's {@code --api-key}), and the agent sends it with every request it forwards. Compute-node ports
 * are reachable by every user of the cluster; with the token, only the agent can use the model, and a foreign
 * server that happens to listen on the job's port gets refused by the real one's key check, never trusted blindly.
 */
final class JobTokens {
  private static final SecureRandom RANDOM = new SecureRandom();

  private JobTokens() {}

  static String newToken() {
    byte[] b = new byte[24];
    RANDOM.nextBytes(b);
    return HexFormat.of().formatHex(b);
  }
}
