package sluice.mock;

import java.io.IOException;
import java.util.Arrays;
import java.util.concurrent.CountDownLatch;

/**
 * Command-line entry point: {@code java -jar mock-llm.jar --port N [options]}. Exit status 0 after
 * {@code --help}, 2 for a bad command line, 1 if the address cannot be bound; on SIGTERM the shutdown
 * hook stops the server and the JVM exits.
 */
public final class MockLlmMain {

    private MockLlmMain() {
    }

    public static void main(String[] args) throws InterruptedException {
        if (Arrays.asList(args).contains("--help")) {
            System.out.print(MockLlmConfig.usage());
            System.out.flush();
            System.exit(0);
        }
        MockLlmConfig config;
        try {
            config = MockLlmConfig.parse(args);
        } catch (IllegalArgumentException e) {
            System.err.println("mock-llm: " + e.getMessage());
            System.err.print(MockLlmConfig.usage());
            System.err.flush();
            System.exit(2);
            return;
        }
        MockLlm server;
        try {
            server = MockLlm.start(config);
        } catch (IOException e) {
            System.err.println("mock-llm: cannot listen on " + config.host() + ":" + config.port() + ": " + e);
            System.exit(1);
            return;
        }
        CountDownLatch stopped = new CountDownLatch(1);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            server.close();
            stopped.countDown();
        }, "mock-llm-shutdown"));
        // The launcher script and tests wait for exactly this line to learn the port.
        System.out.println("mock-llm listening on " + server.baseUrl() + " model=" + config.model());
        System.out.flush();
        stopped.await(); // handler threads are daemons; this keeps the JVM up until SIGTERM
    }
}
