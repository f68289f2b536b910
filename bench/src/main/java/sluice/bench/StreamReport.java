package sluice.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;

/** The streaming section of docs/benchmarks.md and its console lines. Pure: same data, same text. */
final class StreamReport {
  private StreamReport() {}

  static String console(StreamRow r) {
    StringBuilder b = new StringBuilder();
    if (r.longStream() != null) {
      StreamRow.LongStream l = r.longStream();
      b.append(String.format(Locale.ROOT, "%-9s one %,d-token stream: %s tokens/s (p50 of %d), first SSE event %s ms%n",
          r.path(), l.tokens(), Report.fmt(l.tokensPerSecond(), 0), l.runs(), Report.ms(l.firstEventP50Ms(), false)));
    }
    if (r.events() != null) {
      StreamRow.EventCost e = r.events();
      b.append(String.format(Locale.ROOT, "%-9s %d clients, %d-token streams: %s events/s, CPU ms per 1,000 events: %s%n",
          r.path(), e.clients(), e.tokens(), Report.fmt(e.eventsPerSecond(), 0), perThousand(e)));
    }
    if (r.concurrent() != null) {
      StreamRow.Concurrent c = r.concurrent();
      b.append(String.format(Locale.ROOT, "%-9s %,d slow streams: %,d completed, %,d failed; probe TTFB p50 %s ms, p99 %s ms%n",
          r.path(), c.streams(), c.completed(), c.failed(), Report.ms(c.probeTtfb().p50(), false),
          Report.ms(c.probeTtfb().p99(), false)));
    }
    return b.toString();
  }

  private static String perThousand(StreamRow.EventCost e) {
    return e.cpu().seconds().entrySet().stream()
        .filter(x -> !x.getKey().equals(CpuUse.OTHER) && !x.getKey().equals(CpuUse.UNATTRIBUTED))
        .map(x -> x.getKey() + " " + Report.fmt(x.getValue() * 1e6 / Math.max(1, e.events()), 2))
        .collect(Collectors.joining(", "));
  }

  static void section(StringBuilder b, Report.Data d) {
    List<StreamRow> rows = d.streams();
    if (rows.isEmpty()) return;
    StreamPlan p = d.settings().streams();
    b.append("## Streams\n\n");
    b.append("Streaming chat completions (`\"stream\": true`) on every measured path, after its short-request rows, "
        + "from the same bench JVM, which counts SSE events by their blank-line ends without parsing them. The streams "
        + "back to back and the long stream go through kept-alive blocking HTTP/1.1 connections that decode the "
        + "chunks themselves (the cheapest client the JDK allows: the JDK `HttpClient` cost about as much CPU per "
        + "event as mock-llm); the slow streams and the probes beside them through non-blocking connections on one "
        + "selector thread each (one for the streams, one for the probes), no thread per stream.\n\n");

    b.append("### One long stream\n\n");
    b.append("A stream of ").append(Report.fmt(p.longTokens(), 0)).append(" tokens with no delay between them, ")
        .append(p.longWarmups()).append(" times unrecorded, then ").append(p.longRuns()).append(" times, one after "
            + "the other. *tokens/s* = tokens / (request sent → `[DONE]` received), the median of the runs and the "
            + "slowest; *first SSE event* = request sent → the first byte of the body (the role chunk).\n\n");
    b.append("| path | runs | tokens/s (p50) | slowest run | first SSE event p50 ms | max ms | failed |\n");
    b.append("|---|--:|--:|--:|--:|--:|--:|\n");
    for (StreamRow r : rows) {
      StreamRow.LongStream l = r.longStream();
      if (l == null) {
        b.append("| ").append(r.path()).append(" | not measured | | | | | |\n");
        continue;
      }
      b.append("| ").append(r.path()).append(" | ").append(l.runs()).append(" | ").append(Report.fmt(l.tokensPerSecond(), 0))
          .append(" | ").append(Report.fmt(l.slowestTokensPerSecond(), 0)).append(" | ")
          .append(Report.ms(l.firstEventP50Ms(), false)).append(" | ").append(Report.ms(l.firstEventMaxMs(), false))
          .append(" | ").append(l.errors()).append(" |\n");
    }
    b.append('\n');

    eventSection(b, rows, p);
    concurrentSection(b, rows, p);
  }

  private static void eventSection(StringBuilder b, List<StreamRow> rows, StreamPlan p) {
    List<StreamRow> measured = rows.stream().filter(r -> r.events() != null).toList();
    if (measured.isEmpty()) return;
    StreamRow.EventCost first = measured.get(0).events();
    b.append("### CPU per 1,000 SSE events\n\n");
    b.append(first.clients()).append(" clients, each opening its next ").append(Report.fmt(first.tokens(), 0))
        .append("-token stream when the previous one ended: ").append(Report.fmt(p.eventWarmup().toSeconds(), 0))
        .append(" s of warm-up, then a ").append(Report.fmt(p.eventWindow().toSeconds(), 0)).append(" s window. "
            + "CPU milliseconds (user + system, from /proc as in the CPU table above) per 1,000 SSE events "
            + "received in the window; an event is a role, token or final chunk, or `[DONE]`.\n\n");
    List<String> columns = new ArrayList<>();
    for (String c : CpuUse.COMPONENTS) {
      if (measured.stream().anyMatch(r -> r.events().cpu().seconds().containsKey(c))) columns.add(c);
    }
    b.append("| path | streams | events | events/s |");
    columns.forEach(c -> b.append(' ').append(c).append(" |"));
    b.append(" whole machine | failed |\n|---|--:|--:|--:|");
    columns.forEach(c -> b.append("--:|"));
    b.append("--:|--:|\n");
    for (StreamRow r : measured) {
      StreamRow.EventCost e = r.events();
      b.append("| ").append(r.path()).append(" | ").append(Report.fmt(e.streams(), 0)).append(" | ")
          .append(Report.fmt(e.events(), 0)).append(" | ").append(Report.fmt(e.eventsPerSecond(), 0)).append(" |");
      for (String c : columns) {
        double v = e.cpu().perThousand(c, e.events()) * 1000;
        b.append(' ').append(Double.isNaN(v) ? "" : Report.fmt(v, 2)).append(" |");
      }
      b.append(' ').append(Report.fmt(e.cpu().machineBusySeconds() * 1e6 / Math.max(1, e.events()), 2)).append(" | ")
          .append(e.errors()).append(" |\n");
    }
    b.append('\n');
    List<String> heavier = measured.stream().filter(r -> loadShare(r.events()) >= 1).map(StreamRow::path).toList();
    b.append(heavier.isEmpty()
        ? "The load generator used less CPU per event than the path it measured (every component but the load "
            + "generator and the other processes) on every path.\n\n"
        : "**The load generator used as much CPU per event as the path it measured, or more, on " + String.join(", ", heavier)
            + "**: there it took CPU the path could have used, and the path's events/s are a lower bound.\n\n");
  }

  /** The load generator's CPU over the path's (its components but the load generator, other and unattributed). */
  static double loadShare(StreamRow.EventCost e) {
    double path = 0;
    for (Map.Entry<String, Double> c : e.cpu().seconds().entrySet()) {
      if (!List.of(CpuUse.LOAD, CpuUse.OTHER, CpuUse.UNATTRIBUTED).contains(c.getKey())) path += c.getValue();
    }
    return path == 0 ? Double.POSITIVE_INFINITY : e.cpu().seconds().getOrDefault(CpuUse.LOAD, 0.0) / path;
  }

  private static void concurrentSection(StringBuilder b, List<StreamRow> rows, StreamPlan p) {
    List<StreamRow> measured = rows.stream().filter(r -> r.concurrent() != null).toList();
    if (measured.isEmpty()) return;
    b.append("### ").append(Report.fmt(p.streams(), 0)).append(" slow streams at once\n\n");
    b.append(Report.fmt(p.streams(), 0)).append(" streams opened at ").append(Report.fmt(p.openPerSecond(), 0))
        .append(" a second, each ").append(p.slowTokens()).append(" tokens at 1 token per ")
        .append(Report.fmt(p.slowDelayMs(), 0)).append(" ms (`\"mock_token_delay_ms\": ").append(p.slowDelayMs())
        .append("` in the body: mock-llm's per-request delay), while a probe sends a short stream (4 tokens, no delay) "
            + "every ").append(p.probeEvery().toMillis()).append(" ms beside them, from the first slow stream until "
            + "the last one ended. *Probe TTFB* = probe sent → first byte of its body; each probe opens a new connection, "
            + "so the connect is part of it. The processes are read every second "
            + "until the last slow stream ended; *open at peak* = slow streams that had their first byte and had not "
            + "ended at the reading when the most were open, and the table below is that reading. A path that starts "
            + "streams slower than they are opened never has them all open at once.\n\n");
    b.append("| path | streams | completed | failed | open at peak | probes | probe TTFB p50 ms | p99 ms | max ms | probes failed |\n");
    b.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n");
    for (StreamRow r : measured) {
      StreamRow.Concurrent c = r.concurrent();
      b.append("| ").append(r.path()).append(" | ").append(Report.fmt(c.streams(), 0)).append(" | ")
          .append(Report.fmt(c.completed(), 0)).append(" | ").append(Report.fmt(c.failed(), 0)).append(" | ")
          .append(Report.fmt(c.openAtPeak(), 0)).append(" | ").append(Report.fmt(c.probes(), 0)).append(" | ")
          .append(Report.ms(c.probeTtfb().p50(), false)).append(" | ").append(Report.ms(c.probeTtfb().p99(), false))
          .append(" | ").append(Report.ms(c.probeTtfb().max(), false)).append(" | ").append(c.probeErrors()).append(" |\n");
    }
    b.append('\n');
    for (StreamRow r : measured) {
      Map<String, Integer> f = r.concurrent().failures();
      if (f.isEmpty()) continue;
      b.append("Failed streams on ").append(r.path()).append(": ");
      b.append(f.entrySet().stream().sorted((x, y) -> y.getValue() - x.getValue()).limit(5)
          .map(e -> Report.fmt(e.getValue(), 0) + " × `" + e.getKey().replace("`", "'") + "`")
          .collect(Collectors.joining("; "))).append(".\n\n");
    }
    b.append("**At the peak**: every process of the path, from `/proc/<pid>/status` (VmRSS, Threads); the gateway's "
        + "heap in use from its `/metrics` (`jvm_memory_used_bytes{area=\"heap\"}`, summed over the pools).\n\n");
    b.append("| path | process | pid | RSS MiB | threads |\n|---|---|--:|--:|--:|\n");
    for (StreamRow r : measured) {
      for (StreamRow.Peak k : r.concurrent().peak()) {
        b.append("| ").append(r.path()).append(" | ").append(k.component()).append(" | ").append(k.pid()).append(" | ")
            .append(Report.fmt(k.rssKiB() / 1024.0, 0)).append(" | ").append(k.threads()).append(" |\n");
      }
      if (r.concurrent().heapBytes() != null) {
        b.append("| ").append(r.path()).append(" | gateway heap in use | | ")
            .append(Report.fmt(r.concurrent().heapBytes() / 1048576.0, 0)).append(" | |\n");
      }
    }
    b.append('\n');
    b.append("File descriptors: ").append(measured.get(0).concurrent().fdNote()).append(".\n\n");
  }
}
