package sluice.mock;

/** Token accounting of one request, reported in OpenAI's {@code usage} object. */
record Usage(int promptTokens, int completionTokens) {

    int totalTokens() {
        return promptTokens + completionTokens;
    }
}
