package sluice.edge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The agent child process of the gateway running in this JVM, stopped and continued as an operator's {@code kill -STOP}
 * and {@code kill -CONT} would: the process stays alive and its pipes stay open, but it reads and answers nothing.
 */
record FrozenAgent(long pid) {
  /** The one agent process this JVM started (its command line names the agent's main class). */
  static FrozenAgent find() {
    // ProcessHandle.Info drops very long command lines (the test class path), so read /proc instead.
    List<ProcessHandle> agents = ProcessHandle.current().children().filter(p -> {
      try {
        return Files.readString(Path.of("/proc", Long.toString(p.pid()), "cmdline")).contains("sluice.agent.AgentMain");
      } catch (IOException e) {
        return false;
      }
    }).toList();
    if (agents.size() != 1) throw new IllegalStateException("expected one agent process, found " + agents);
    return new FrozenAgent(agents.get(0).pid());
  }

  void stop() throws Exception { signal("-STOP"); }

  void resume() throws Exception { signal("-CONT"); }

  private void signal(String signal) throws Exception {
    Process kill = new ProcessBuilder("kill", signal, Long.toString(pid)).inheritIO().start();
    if (kill.waitFor() != 0) throw new IllegalStateException("kill " + signal + " " + pid + " failed");
  }
}
