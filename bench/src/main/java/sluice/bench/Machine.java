package sluice.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The facts about the machine that the report prints, read from the machine itself. */
record Machine(int cores, String memory, String cpuModel, String java, String kernel, String openssh, String slurm) {

  static Machine describe() {
    String nproc = Processes.output(List.of("nproc"), Map.of());
    int cores = nproc.matches("\\d+") ? Integer.parseInt(nproc) : Runtime.getRuntime().availableProcessors();
    return new Machine(cores, readMemory(), readCpuModel(),
        Processes.output(List.of(Processes.java(), "-version"), Map.of()).replace('\n', ';').replace(";", "; "),
        read("/proc/sys/kernel/osrelease"),
        orUnknown(Processes.output(List.of("ssh", "-V"), Map.of())),
        orUnknown(Processes.output(List.of("sinfo", "-V"), Map.of())));
  }

  private static String readMemory() {
    for (String line : lines("/proc/meminfo")) {
      if (line.startsWith("MemTotal:")) {
        long kib = Long.parseLong(line.replaceAll("\\D+", ""));
        return String.format(Locale.ROOT, "%.1f GiB", kib / 1024.0 / 1024.0);
      }
    }
    return "unknown";
  }

  private static String readCpuModel() {
    for (String line : lines("/proc/cpuinfo")) {
      if (line.startsWith("model name")) return line.substring(line.indexOf(':') + 1).trim();
    }
    return "unknown";
  }

  private static List<String> lines(String file) {
    try {
      return Files.readAllLines(Path.of(file));
    } catch (Exception e) {
      return List.of();
    }
  }

  private static String read(String file) {
    return String.join(" ", lines(file)).trim();
  }

  private static String orUnknown(String s) {
    return s.isBlank() ? "not found" : s.lines().findFirst().orElse(s);
  }
}
