package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The launcher as the sbatch script uses it: a separate JVM, its stdout line, exit codes and SIGTERM. */
final class MockLlmMainTest {

    private static final Pattern LISTENING =
            Pattern.compile("mock-llm listening on http://127\\.0\\.0\\.1:(\\d+) model=cli-model");

    private static Process launch(String... args) throws IOException {
        return launch(ProcessBuilder.Redirect.PIPE, args);
    }

    private static Process launch(ProcessBuilder.Redirect stdout, String... args) throws IOException {
        List<String> command = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-cp", System.getProperty("java.class.path"),
                MockLlmMain.class.getName()));
        command.addAll(List.of(args));
        return new ProcessBuilder(command).redirectOutput(stdout).start();
    }

    private static String read(java.io.InputStream in) throws IOException {
        return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }

    @Test
    void helpPrintsUsageAndExitsZero() throws Exception {
        Process process = launch("--help");
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, process.exitValue());
        assertEquals(MockLlmConfig.usage(), read(process.getInputStream()));
    }

    @Test
    void badArgumentsPrintOneLineAndUsageThenExitTwo() throws Exception {
        Process process = launch("--port", "nope");
        assertTrue(process.waitFor(30, TimeUnit.SECONDS));
        assertEquals(2, process.exitValue());
        String stderr = read(process.getErrorStream());
        assertEquals("mock-llm: option --port must be an integer, got 'nope'" + System.lineSeparator()
                + MockLlmConfig.usage(), stderr);
        assertEquals("", read(process.getInputStream()));
    }

    @Test
    void printsTheListeningLineServesAndStopsOnSigterm(@TempDir Path dir) throws Exception {
        // stdout goes to a file: Process.destroy() closes the pipes, and the file can be read afterwards.
        Path stdout = dir.resolve("stdout.txt");
        Process process = launch(ProcessBuilder.Redirect.to(stdout.toFile()),
                "--port", "0", "--model", "cli-model", "--tokens", "3");
        try {
            String line = awaitFirstLine(stdout, process);
            Matcher matcher = LISTENING.matcher(line);
            assertTrue(matcher.matches(), "unexpected first line: " + line);
            int port = Integer.parseInt(matcher.group(1));
            assertNotEquals(0, port);

            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
            HttpResponse<String> chat = client.send(HttpRequest.newBuilder(
                            URI.create("http://127.0.0.1:" + port + "/v1/chat/completions"))
                    .POST(HttpRequest.BodyPublishers.ofString(TestHttp.chatBody("cli-model", "hi", "")))
                    .build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, chat.statusCode());
            assertTrue(chat.body().contains("\"completion_tokens\":3"), chat.body());

            process.destroy(); // SIGTERM on Unix
            assertTrue(process.waitFor(10, TimeUnit.SECONDS), "did not stop on SIGTERM");
            assertEquals(List.of(line), Files.readAllLines(stdout), "exactly one line on stdout");
        } finally {
            process.destroyForcibly();
        }
    }

    private static String awaitFirstLine(Path file, Process process) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < deadline) {
            String text = Files.readString(file);
            if (text.contains("\n")) {
                return text.substring(0, text.indexOf('\n'));
            }
            if (!process.isAlive()) {
                throw new AssertionError("exited early: " + read(process.getErrorStream()));
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no listening line within 30 s");
    }

    @Test
    void portInUseExitsOne() throws Exception {
        try (MockLlm holder = MockLlm.start(MockLlmConfig.defaults())) {
            Process process = launch("--port", String.valueOf(holder.port()));
            assertTrue(process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(1, process.exitValue());
            assertTrue(read(process.getErrorStream()).startsWith("mock-llm: cannot listen on 127.0.0.1:"));
        }
    }
}
