package sluice.mock;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.ArrayList;
import java.util.List;

/**
 * A validated embeddings request.
 *
 * @param base64 true for {@code "encoding_format": "base64"} (the openai-python default): each vector
 *               is then sent as base64 of little-endian float32s instead of a JSON array
 */
record EmbeddingRequest(List<String> inputs, int promptTokens, boolean base64) {

    static EmbeddingRequest parse(JsonNode body, String model) {
        Fields.requireModel(body, model);
        if (!Fields.present(body, "input")) {
            throw ApiException.invalid("input", "you must provide an 'input' parameter");
        }
        JsonNode input = body.get("input");
        List<String> inputs = new ArrayList<>();
        if (input.isTextual()) {
            inputs.add(input.textValue());
        } else if (input.isArray() && !input.isEmpty()) {
            for (JsonNode element : input) {
                if (!element.isTextual()) {
                    throw ApiException.invalid("input",
                            "'input' must be a string or a non-empty array of strings (token arrays are not supported)");
                }
                inputs.add(element.textValue());
            }
        } else {
            throw ApiException.invalid("input", "'input' must be a string or a non-empty array of strings");
        }
        int words = inputs.stream().mapToInt(Tokens::countWords).sum();
        return new EmbeddingRequest(List.copyOf(inputs), Math.max(1, words), base64(body));
    }

    private static boolean base64(JsonNode body) {
        if (!Fields.present(body, "encoding_format")) {
            return false;
        }
        String format = body.get("encoding_format").asText("");
        if (!format.equals("float") && !format.equals("base64")) {
            throw ApiException.invalid("encoding_format", "'encoding_format' must be \"float\" or \"base64\"");
        }
        return format.equals("base64");
    }
}
