package sluice.edge;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A headless Chromium for the dashboard tests: Debian's {@code chromium} driven by npm's {@code playwright-core}
 * through {@code http-edge/src/test/browser/driver.mjs}, one JSON command per line. Nothing is skipped when a piece is
 * missing: the test fails and says how to install it.
 */
final class BrowserDriver implements AutoCloseable {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Duration ANSWER = Duration.ofSeconds(45);
  private static final JsonNode EOF = JSON.createObjectNode();

  private final Process process;
  private final BufferedWriter commands;
  private final BlockingQueue<JsonNode> answers = new LinkedBlockingQueue<>();
  private final Path log;

  private BrowserDriver(Process process, Path log) {
    this.process = process;
    this.log = log;
    this.commands = new BufferedWriter(new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8));
    Thread reader = new Thread(() -> {
      try (BufferedReader out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        for (String line; (line = out.readLine()) != null; ) answers.add(JSON.readTree(line));
      } catch (IOException e) {
        // the driver has gone: waiting callers get EOF
      }
      answers.add(EOF);
    }, "browser-driver-answers");
    reader.setDaemon(true);
    reader.start();
  }

  /** The driver's folder, where {@code npm ci} puts playwright-core. */
  static Path folder() {
    return Path.of(System.getProperty("sluice.home", "..")).toAbsolutePath().normalize().resolve("http-edge/src/test/browser");
  }

  /** Starts Chromium; fails with the install step when Chromium, node or playwright-core is missing. */
  static BrowserDriver start(Path log) throws Exception {
    Path dir = folder();
    String chromium = System.getenv().getOrDefault("CHROMIUM", "/usr/bin/chromium");
    if (!Files.isExecutable(Path.of(chromium))) {
      throw new IllegalStateException("no Chromium at " + chromium + ": install Debian's (apt-get install chromium; .ci/run "
          + "does) or set CHROMIUM to another Chromium binary");
    }
    if (!Files.isDirectory(dir.resolve("node_modules/playwright-core"))) {
      throw new IllegalStateException("playwright-core is not installed in " + dir + ": run 'npm ci --prefix "
          + "http-edge/src/test/browser' (bin/sluice test does when it is missing; needs Debian's nodejs and npm)");
    }
    Process p;
    try {
      p = new ProcessBuilder("node", "driver.mjs").directory(dir.toFile())
          .redirectError(ProcessBuilder.Redirect.to(log.toFile())).start();
    } catch (IOException e) {
      throw new IllegalStateException("cannot run node (install Debian's nodejs and npm; .ci/run does): " + e.getMessage(), e);
    }
    BrowserDriver driver = new BrowserDriver(p, log);
    driver.answer("starting Chromium");
    return driver;
  }

  private JsonNode answer(String what) throws Exception {
    JsonNode a = answers.poll(ANSWER.toSeconds(), TimeUnit.SECONDS);
    if (a == null) throw new AssertionError("the browser did not answer '" + what + "' within " + ANSWER.toSeconds() + " s" + logTail());
    if (a == EOF) throw new AssertionError("the browser driver exited during '" + what + "'" + logTail());
    if (!a.path("ok").asBoolean()) throw new AssertionError("browser: " + what + " failed: " + a.path("error").asText() + logTail());
    return a.get("value");
  }

  private String logTail() {
    try {
      List<String> lines = Files.readAllLines(log);
      return "\n-- driver's stderr (" + log + "), last lines:\n"
          + String.join("\n", lines.subList(Math.max(0, lines.size() - 20), lines.size()));
    } catch (IOException e) {
      return "";
    }
  }

  private synchronized JsonNode send(ObjectNode command) throws Exception {
    commands.write(command.toString());
    commands.newLine();
    commands.flush();
    return answer(command.toString());
  }

  private static ObjectNode cmd(String name) { return JSON.createObjectNode().put("cmd", name); }

  void open(String url) throws Exception { send(cmd("goto").put("url", url)); }

  void fill(String selector, String text) throws Exception { send(cmd("fill").put("selector", selector).put("text", text)); }

  void click(String selector) throws Exception { send(cmd("click").put("selector", selector)); }

  /** The text of the first element matching {@code selector}, or null when none does. */
  String text(String selector) throws Exception {
    JsonNode v = send(cmd("text").put("selector", selector));
    return v == null || v.isNull() ? null : v.asText();
  }

  int count(String selector) throws Exception { return send(cmd("count").put("selector", selector)).asInt(); }

  /** Waits (up to 15 s) until an element matching {@code selector} is visible. */
  void waitFor(String selector) throws Exception { send(cmd("wait").put("selector", selector)); }

  /** The JSON value of a JavaScript expression evaluated in the page. */
  JsonNode eval(String expression) throws Exception { return send(cmd("eval").put("expression", expression)); }

  /** Page loads of the main frame since the browser started: a reload adds one. */
  int loads() throws Exception { return send(cmd("loads")).asInt(); }

  /** The page's console errors and uncaught exceptions so far. */
  List<String> problems() throws Exception {
    return JSON.convertValue(send(cmd("console")), JSON.getTypeFactory().constructCollectionType(List.class, String.class));
  }

  void screenshot(Path path) throws Exception { send(cmd("screenshot").put("path", path.toAbsolutePath().toString())); }

  @Override public void close() {
    try {
      commands.write(cmd("quit").toString());
      commands.newLine();
      commands.flush();
    } catch (IOException e) {
      // already gone
    }
    try {
      if (!process.waitFor(15, TimeUnit.SECONDS)) process.destroyForcibly();
    } catch (InterruptedException e) {
      process.destroyForcibly();
      Thread.currentThread().interrupt();
    }
  }
}
