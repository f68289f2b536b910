package sluice.mock;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

final class MockLlmConfigTest {

    @Test
    void onlyPortGivenMeansDefaults() {
        assertEquals(new MockLlmConfig("127.0.0.1", 8080, "mock-llm", 16, Duration.ZERO, Duration.ZERO, 128),
                MockLlmConfig.parse("--port", "8080"));
    }

    @Test
    void everyOptionIsParsedInBothSpellings() {
        MockLlmConfig config = MockLlmConfig.parse("--host", "0.0.0.0", "--port=0", "--model", "org/llama-3",
                "--tokens", "64", "--token-delay-ms=5", "--startup-delay-ms", "2500", "--threads", "8");
        assertEquals(new MockLlmConfig("0.0.0.0", 0, "org/llama-3", 64, Duration.ofMillis(5),
                Duration.ofMillis(2500), 8), config);
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @CsvSource(delimiter = '|', value = {
        "''                                | missing required option --port",
        "--model x                         | missing required option --port",
        "--port 1 --bogus 2                | unknown option '--bogus'",
        "--port 1 extra                    | unknown option 'extra'",
        "--port                            | option --port needs a value",
        "--port 1 --model                  | option --model needs a value",
        "--port --model x                  | option --port needs a value",
        "--port abc                        | option --port must be an integer, got 'abc'",
        "--port 1.5                        | option --port must be an integer, got '1.5'",
        "--port -1                         | option --port must be in 0..65535, got -1",
        "--port 70000                      | option --port must be in 0..65535, got 70000",
        "--port 1 --tokens 0               | option --tokens must be in 1..1000000, got 0",
        "--port 1 --tokens -3              | option --tokens must be in 1..1000000, got -3",
        "--port 1 --token-delay-ms -1      | option --token-delay-ms must be in 0..3600000, got -1",
        "--port 1 --startup-delay-ms x     | option --startup-delay-ms must be an integer, got 'x'",
        "--port 1 --threads 0              | option --threads must be in 1..16384, got 0",
        "--port 1 --port 2                 | option --port given more than once",
        "--port 1 --model=                 | option --model must not be blank",
        "--port 99999999999999999999       | option --port must be an integer, got '99999999999999999999'",
    })
    void badCommandLinesAreRejectedWithAClearMessage(String line, String message) {
        String[] args = line.isEmpty() ? new String[0] : line.trim().split("\\s+");
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> MockLlmConfig.parse(args));
        assertEquals(message, error.getMessage());
    }

    @Test
    void programmaticConfigsAreValidatedToo() {
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.defaults().withTokens(0));
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.defaults().withPort(-1));
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.defaults().withModel(" "));
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.defaults().withThreads(0));
        assertThrows(IllegalArgumentException.class,
                () -> MockLlmConfig.defaults().withTokenDelay(Duration.ofMillis(-1)));
        assertThrows(IllegalArgumentException.class, () -> MockLlmConfig.defaults().withStartupDelay(null));
    }

    @Test
    void usageMentionsEveryOption() {
        String usage = MockLlmConfig.usage();
        for (String option : new String[] {"--port", "--host", "--model", "--tokens", "--token-delay-ms",
                "--startup-delay-ms", "--threads", "--help"}) {
            assertTrue(usage.contains(option), option);
        }
    }
}
