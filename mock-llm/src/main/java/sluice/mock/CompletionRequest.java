package sluice.mock;

import com.fasterxml.jackson.databind.JsonNode;
import java.time.Duration;

/**
 * A validated chat or text completion request, reduced to what the mock needs to answer it.
 *
 * @param completionTokens tokens to generate: min(max_tokens, --tokens), or --tokens
 * @param finishReason     "length" when max_tokens cut the generation short, else "stop"
 * @param includeUsage     stream_options.include_usage: a final usage-only chunk, "usage": null on the others
 * @param continuousUsage  stream_options.continuous_usage_stats (vLLM's), only with include_usage: every chunk
 *                         carries the usage so far instead of null
 * @param tokenDelay       pause before each token: the body's mock_token_delay_ms, else --token-delay-ms
 */
record CompletionRequest(
        Kind kind,
        int seed,
        int promptTokens,
        int completionTokens,
        String finishReason,
        boolean stream,
        boolean includeUsage,
        boolean continuousUsage,
        Duration tokenDelay) {

    /** The per-request delay's upper bound: a minute per token is slow enough for any test. */
    static final int MAX_TOKEN_DELAY_MS = 60_000;

    Usage usage() {
        return new Usage(promptTokens, completionTokens);
    }

    /** The cumulative usage after {@code generated} completion tokens. */
    Usage usageSoFar(int generated) {
        return new Usage(promptTokens, generated);
    }

    static CompletionRequest parse(Kind kind, JsonNode body, String model, int defaultTokens, Duration defaultDelay) {
        Fields.requireModel(body, model);
        StringBuilder promptText = new StringBuilder();
        int[] words = {0};
        if (kind == Kind.CHAT) {
            readMessages(body, promptText, words);
        } else {
            readPrompt(body, promptText, words);
        }
        Fields.requireSingleChoice(body);
        long maxTokens = kind == Kind.CHAT && Fields.present(body, "max_completion_tokens")
                ? Fields.optionalPositive(body, "max_completion_tokens")
                : Fields.optionalPositive(body, "max_tokens");
        boolean cutShort = maxTokens > 0 && maxTokens < defaultTokens;
        boolean stream = Fields.optionalBoolean(body, "stream");
        StreamOptions options = streamOptions(body, stream);
        return new CompletionRequest(
                kind,
                Tokens.seed(promptText.toString()),
                Math.max(1, words[0]),
                cutShort ? (int) maxTokens : defaultTokens,
                cutShort ? "length" : "stop",
                stream,
                options.includeUsage(),
                options.includeUsage() && options.continuousUsage(),
                Fields.present(body, "mock_token_delay_ms")
                        ? Duration.ofMillis(Fields.optionalInt(body, "mock_token_delay_ms", 0, MAX_TOKEN_DELAY_MS))
                        : defaultDelay);
    }

    private static void readMessages(JsonNode body, StringBuilder promptText, int[] words) {
        JsonNode messages = body.get("messages");
        if (messages == null || !messages.isArray() || messages.isEmpty()) {
            throw ApiException.invalid("messages", "'messages' must be a non-empty array");
        }
        for (int i = 0; i < messages.size(); i++) {
            JsonNode message = messages.get(i);
            String where = "messages[" + i + "]";
            if (!message.isObject() || !message.path("role").isTextual()) {
                throw ApiException.invalid(where, "'" + where + "' must be an object with a string 'role'");
            }
            readContent(message.get("content"), where + ".content", promptText, words);
        }
    }

    /** Content is a string, an array of parts (only "text" parts count), or null (e.g. tool calls). */
    private static void readContent(JsonNode content, String where, StringBuilder promptText, int[] words) {
        if (content == null || content.isNull()) {
            return;
        }
        if (content.isTextual()) {
            Fields.append(content.textValue(), promptText, words);
            return;
        }
        if (!content.isArray()) {
            throw ApiException.invalid(where, "'" + where + "' must be a string, an array of parts or null");
        }
        for (JsonNode part : content) {
            if (!part.isObject() || !part.path("type").isTextual()) {
                throw ApiException.invalid(where, "each part of '" + where + "' must be an object with a 'type'");
            }
            if (part.get("type").textValue().equals("text")) {
                if (!part.path("text").isTextual()) {
                    throw ApiException.invalid(where, "a text part of '" + where + "' needs a string 'text'");
                }
                Fields.append(part.get("text").textValue(), promptText, words);
            }
        }
    }

    private static void readPrompt(JsonNode body, StringBuilder promptText, int[] words) {
        if (!Fields.present(body, "prompt")) {
            throw ApiException.invalid("prompt", "you must provide a 'prompt' parameter");
        }
        Fields.appendStrings(body.get("prompt"), "prompt", promptText, words);
    }

    private record StreamOptions(boolean includeUsage, boolean continuousUsage) {
    }

    /**
     * Mirrors OpenAI: stream_options is an error without stream, and include_usage must be a boolean. Like vLLM,
     * continuous_usage_stats must be a boolean too, and it has an effect only together with include_usage.
     */
    private static StreamOptions streamOptions(JsonNode body, boolean stream) {
        if (!Fields.present(body, "stream_options")) {
            return new StreamOptions(false, false);
        }
        JsonNode options = body.get("stream_options");
        if (!stream) {
            throw ApiException.invalid("stream_options",
                    "'stream_options' is only allowed when 'stream' is true");
        }
        if (!options.isObject()) {
            throw ApiException.invalid("stream_options", "'stream_options' must be an object");
        }
        return new StreamOptions(Fields.optionalBoolean(options, "include_usage"),
                Fields.optionalBoolean(options, "continuous_usage_stats"));
    }
}
