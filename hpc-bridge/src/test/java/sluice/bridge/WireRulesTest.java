package sluice.bridge;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import sluice.agent.wire.Messages;
import sluice.core.ids.ServiceId;

/**
 * The agent checks every name the gateway sends with its own copy of the rules (it trusts nothing from the gateway and
 * depends on no gateway code). Both sides must accept the same service ids, or a model the gateway serves would be
 * refused by the agent as malformed.
 */
class WireRulesTest {
  static Stream<String> candidates() {
    return Stream.of("m", "mock-llm", "llama-3.1-8b", "Qwen2.5_72B", "7", "a".repeat(128), "a".repeat(129), "", ".hidden",
        "-x", "_x", "a/b", "a b", "bad:model", "a..b", "é", "a\nb", "x.", "x-");
  }

  @ParameterizedTest(name = "''{0}''")
  @MethodSource("candidates")
  void theAgentAcceptsExactlyTheServiceIdsTheGatewayAccepts(String id) {
    assertEquals(ServiceId.isValid(id), agentAccepts(id), "gateway and agent disagree on '" + id + "'");
  }

  private static boolean agentAccepts(String service) {
    try {
      new Messages.Submit(service, "tag");
      return true;
    } catch (IllegalArgumentException e) {
      return false;
    }
  }
}
