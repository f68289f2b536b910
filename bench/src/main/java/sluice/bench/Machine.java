package sluice.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/** The facts about the machine that the report prints, read from the machine itself. */
record Machine(int cores, String memory, String cpuModel, String java, String kernel, String openssh, String slurm) {

  /** @param slurmEnv environment for {@code sinfo -V} (SLURM_CONF of the sandbox: without a config sinfo fails) */
  static Machine describe(Map<String, String> slurmEnv) {
    String nproc = Processes.output(List.of("nproc"), Map.of());
    int cores = nproc.matches("\\d+") ? Integer.parseInt(nproc) : Runtime.getRuntime().availableProcessors();
    return new Machine(cores, readMemory(), readCpuModel(),
        Processes.output(List.of(Processes.java(), "-version"), Map.of()).replace('\n', ';').replace(";", "; "),
        read("/proc/sys/kernel/osrelease"),
        orUnknown(Processes.output(List.of("ssh", "-V"), Map.of())),
        orUnknown(Processes.output(List.of("sinfo", "-V"), slurmEnv)));
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

  /** "model name", plus family, model, clock and whether it is a virtual machine, all from /proc/cpuinfo. */
  private static String readCpuModel() {
    String name = "unknown";
    String family = "?";
    String model = "?";
    String mhz = "?";
    boolean virtual = false;
    for (String line : lines("/proc/cpuinfo")) {
      String value = line.contains(":") ? line.substring(line.indexOf(':') + 1).trim() : "";
      if (line.startsWith("model name")) name = value;
      else if (line.startsWith("cpu family")) family = value;
      else if (line.startsWith("model\t") || line.startsWith("model ")) model = value;
      else if (line.startsWith("cpu MHz")) mhz = value.replaceAll("\\..*", "");
      else if (line.startsWith("flags")) virtual = (" " + value + " ").contains(" hypervisor ");
      else if (line.isBlank() && !name.equals("unknown")) break;       // the first processor is enough
    }
    return name + " (family " + family + ", model " + model + ", " + mhz + " MHz" + (virtual ? ", virtual machine" : "") + ")";
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
    return s.isBlank() || s.contains("error") ? "unknown" : s.lines().findFirst().orElse(s);
  }
}
