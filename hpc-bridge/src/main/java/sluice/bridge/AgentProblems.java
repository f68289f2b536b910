package sluice.bridge;

import io.prometheus.metrics.core.datapoints.CounterDataPoint;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.Map;
import java.util.Set;
import sluice.agent.wire.ProblemCode;
import sluice.core.metrics.SluiceMetrics;

/**
 * Counts the problems of the agent protocol this node's bridge sees ({@code sluice_agent_protocol_errors_total}, by
 * the protocol's code, docs/protocol.md §6): the agent's error replies, the streams it reset before their reply, and
 * sessions that ended on a protocol error (found by either side) or a failure of the sender. A lost connection
 * ({@code eof}, {@code io_error}, {@code session_closed}) and an orderly end ({@code normal}) are not counted here: the
 * tunnel metrics show those. Every counted code is exported from the start, at 0. Thread-safe.
 */
public final class AgentProblems {
  /** Counts nothing (tests, tools). */
  public static final AgentProblems NONE = new AgentProblems(Map.of());
  private static final Set<ProblemCode> NOT_COUNTED =
      EnumSet.of(ProblemCode.NORMAL, ProblemCode.SESSION_CLOSED, ProblemCode.EOF, ProblemCode.IO_ERROR);

  private final Map<ProblemCode, CounterDataPoint> byCode;

  private AgentProblems(Map<ProblemCode, CounterDataPoint> byCode) { this.byCode = byCode; }

  public static AgentProblems of(SluiceMetrics metrics) {
    Map<ProblemCode, CounterDataPoint> byCode = new EnumMap<>(ProblemCode.class);
    for (ProblemCode code : ProblemCode.values()) {
      if (!NOT_COUNTED.contains(code)) byCode.put(code, metrics.agentProtocolErrors.labelValues(code.wire()));
    }
    return new AgentProblems(byCode);
  }

  /** The bridge saw {@code code}; codes of a lost connection or an orderly end are ignored. */
  void seen(ProblemCode code) {
    CounterDataPoint c = byCode.get(code);
    if (c != null) c.inc();
  }
}
