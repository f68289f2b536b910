package sluice.mock;

import com.fasterxml.jackson.databind.JsonNode;

/** Typed reads of request fields that turn every mismatch into a 400 naming the parameter. */
final class Fields {

    private Fields() {
    }

    /** Absent and JSON null are treated alike, as OpenAI does for optional parameters. */
    static boolean present(JsonNode body, String name) {
        JsonNode value = body.get(name);
        return value != null && !value.isNull();
    }

    /** Checks the requested model; a wrong one is a 404 like vLLM's, not a validation error. */
    static void requireModel(JsonNode body, String served) {
        JsonNode model = body.get("model");
        if (model == null || model.isNull()) {
            throw ApiException.invalid("model", "you must provide a model parameter");
        }
        if (!model.isTextual()) {
            throw ApiException.invalid("model", "'model' must be a string");
        }
        if (!model.textValue().equals(served)) {
            throw ApiException.modelNotFound(model.textValue());
        }
    }

    static boolean optionalBoolean(JsonNode body, String name) {
        if (!present(body, name)) {
            return false;
        }
        JsonNode value = body.get(name);
        if (!value.isBoolean()) {
            throw ApiException.invalid(name, "'" + name + "' must be a boolean");
        }
        return value.booleanValue();
    }

    /** Returns the value, or 0 when absent; a present value must be an integer >= 1. */
    static long optionalPositive(JsonNode body, String name) {
        if (!present(body, name)) {
            return 0;
        }
        JsonNode value = body.get(name);
        if (!value.isIntegralNumber() || value.bigIntegerValue().signum() <= 0) {
            throw ApiException.invalid(name, "'" + name + "' must be a positive integer, got " + value);
        }
        // Anything beyond a long is just "no limit" for a server that caps at --tokens anyway.
        return value.canConvertToLong() ? value.longValue() : Long.MAX_VALUE;
    }

    /** A present value must be an integer in min..max (the caller checks presence). */
    static int optionalInt(JsonNode body, String name, int min, int max) {
        JsonNode value = body.get(name);
        if (!value.isIntegralNumber() || !value.canConvertToInt() || value.intValue() < min || value.intValue() > max) {
            throw ApiException.invalid(name, "'" + name + "' must be an integer from " + min + " to " + max + ", got " + value);
        }
        return value.intValue();
    }

    /** Only one choice is ever generated; silently ignoring n > 1 would corrupt a client's accounting. */
    static void requireSingleChoice(JsonNode body) {
        if (!present(body, "n")) {
            return;
        }
        JsonNode n = body.get("n");
        if (!n.isIntegralNumber() || !n.canConvertToInt() || n.intValue() != 1) {
            throw ApiException.invalid("n", "'n' must be 1: this server generates a single choice, got " + n);
        }
    }

    /** Reads a string, or a non-empty array of strings, into the joined prompt text and word count. */
    static void appendStrings(JsonNode value, String name, StringBuilder joined, int[] words) {
        if (value.isTextual()) {
            append(value.textValue(), joined, words);
            return;
        }
        if (!value.isArray() || value.isEmpty()) {
            throw ApiException.invalid(name, "'" + name + "' must be a string or a non-empty array of strings");
        }
        for (JsonNode element : value) {
            if (!element.isTextual()) {
                throw ApiException.invalid(name,
                        "'" + name + "' must be a string or a non-empty array of strings (token arrays are not supported)");
            }
            append(element.textValue(), joined, words);
        }
    }

    /** Joins prompt texts with "\n" (the seed input) while summing their word counts. */
    static void append(String text, StringBuilder joined, int[] words) {
        if (joined.length() > 0) {
            joined.append('\n');
        }
        joined.append(text);
        words[0] += Tokens.countWords(text);
    }
}
