package sluice.mock;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import com.fasterxml.jackson.core.util.ByteArrayBuilder;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Base64;
import java.util.List;

/**
 * Writes every response body. A streaming generator rather than data binding because OpenAI's shapes
 * need exact control (e.g. {@code "usage": null} on some chunks and no usage key at all on others) and
 * because it is the cheapest way to produce thousands of small bodies per second.
 */
final class OpenAiJson {

    /** Shared and immutable after construction; trailing garbage after the body is malformed JSON. */
    static final ObjectMapper MAPPER = new ObjectMapper().enable(DeserializationFeature.FAIL_ON_TRAILING_TOKENS);
    /** Fixed so /v1/models is byte-for-byte stable across runs. */
    static final long MODEL_CREATED = 1_700_000_000L;

    private static final JsonFactory FACTORY = MAPPER.getFactory();

    @FunctionalInterface
    private interface Body {
        void write(JsonGenerator json) throws IOException;
    }

    /** Identity of one completion, shared by all chunks of a stream. */
    record Envelope(String id, long created, String model) {
    }

    private OpenAiJson() {
    }

    static byte[] completion(Kind kind, Envelope envelope, String text, String finishReason, Usage usage) {
        return write(json -> {
            header(json, envelope, kind.object);
            json.writeArrayFieldStart("choices");
            json.writeStartObject();
            json.writeNumberField("index", 0);
            if (kind == Kind.CHAT) {
                json.writeObjectFieldStart("message");
                json.writeStringField("role", "assistant");
                json.writeStringField("content", text);
                json.writeEndObject();
            } else {
                json.writeStringField("text", text);
            }
            json.writeNullField("logprobs");
            json.writeStringField("finish_reason", finishReason);
            json.writeEndObject();
            json.writeEndArray();
            usage(json, usage);
            json.writeEndObject();
        });
    }

    /**
     * One chat chunk. {@code role} and {@code content} are left out of the delta when null, so the
     * final chunk has {@code "delta": {}}. {@code usageField} adds a {@code "usage"} member: OpenAI's
     * {@code null} when {@code usage} is null, else vLLM's continuous usage object.
     */
    static byte[] chatChunk(Envelope envelope, String role, String content, String finishReason,
            boolean usageField, Usage usage) {
        return write(json -> {
            header(json, envelope, Kind.CHAT.chunkObject);
            json.writeArrayFieldStart("choices");
            json.writeStartObject();
            json.writeNumberField("index", 0);
            json.writeObjectFieldStart("delta");
            if (role != null) {
                json.writeStringField("role", role);
            }
            if (content != null) {
                json.writeStringField("content", content);
            }
            json.writeEndObject();
            endChoice(json, finishReason, usageField, usage);
        });
    }

    /** One text completion chunk; {@code usageField} and {@code usage} as for {@link #chatChunk}. */
    static byte[] textChunk(Envelope envelope, String text, String finishReason, boolean usageField, Usage usage) {
        return write(json -> {
            header(json, envelope, Kind.TEXT.chunkObject);
            json.writeArrayFieldStart("choices");
            json.writeStartObject();
            json.writeNumberField("index", 0);
            json.writeStringField("text", text);
            endChoice(json, finishReason, usageField, usage);
        });
    }

    /** The extra chunk of {@code stream_options.include_usage}: no choices, just the usage. */
    static byte[] usageChunk(Kind kind, Envelope envelope, Usage usage) {
        return write(json -> {
            header(json, envelope, kind.chunkObject);
            json.writeArrayFieldStart("choices");
            json.writeEndArray();
            usage(json, usage);
            json.writeEndObject();
        });
    }

    static byte[] models(String model) {
        return write(json -> {
            json.writeStartObject();
            json.writeStringField("object", "list");
            json.writeArrayFieldStart("data");
            modelObject(json, model);
            json.writeEndArray();
            json.writeEndObject();
        });
    }

    static byte[] model(String model) {
        return write(json -> modelObject(json, model));
    }

    static byte[] embeddings(String model, List<float[]> vectors, boolean base64, int promptTokens) {
        return write(json -> {
            json.writeStartObject();
            json.writeStringField("object", "list");
            json.writeArrayFieldStart("data");
            for (int i = 0; i < vectors.size(); i++) {
                json.writeStartObject();
                json.writeStringField("object", "embedding");
                json.writeNumberField("index", i);
                json.writeFieldName("embedding");
                if (base64) {
                    json.writeString(base64(vectors.get(i)));
                } else {
                    floats(json, vectors.get(i));
                }
                json.writeEndObject();
            }
            json.writeEndArray();
            json.writeStringField("model", model);
            json.writeObjectFieldStart("usage");
            json.writeNumberField("prompt_tokens", promptTokens);
            json.writeNumberField("total_tokens", promptTokens);
            json.writeEndObject();
            json.writeEndObject();
        });
    }

    static byte[] error(String message, String type, String param, String code) {
        return write(json -> {
            json.writeStartObject();
            json.writeObjectFieldStart("error");
            json.writeStringField("message", message);
            json.writeStringField("type", type);
            json.writeStringField("param", param);
            json.writeStringField("code", code);
            json.writeEndObject();
            json.writeEndObject();
        });
    }

    static byte[] status(String status) {
        return write(json -> {
            json.writeStartObject();
            json.writeStringField("status", status);
            json.writeEndObject();
        });
    }

    static byte[] stats(MockLlmStats stats) {
        return write(json -> {
            json.writeStartObject();
            json.writeNumberField("requests", stats.requests());
            json.writeNumberField("completions", stats.completions());
            json.writeNumberField("streams_started", stats.streamsStarted());
            json.writeNumberField("streams_completed", stats.streamsCompleted());
            json.writeNumberField("streams_aborted", stats.streamsAborted());
            json.writeNumberField("active_streams", stats.activeStreams());
            json.writeNumberField("prompt_tokens", stats.promptTokens());
            json.writeNumberField("completion_tokens", stats.completionTokens());
            json.writeEndObject();
        });
    }

    private static void header(JsonGenerator json, Envelope envelope, String object) throws IOException {
        json.writeStartObject();
        json.writeStringField("id", envelope.id());
        json.writeStringField("object", object);
        json.writeNumberField("created", envelope.created());
        json.writeStringField("model", envelope.model());
    }

    private static void endChoice(JsonGenerator json, String finishReason, boolean usageField, Usage usage)
            throws IOException {
        json.writeNullField("logprobs");
        json.writeStringField("finish_reason", finishReason); // null while tokens are still coming
        json.writeEndObject();
        json.writeEndArray();
        if (usageField && usage == null) {
            json.writeNullField("usage");
        } else if (usageField) {
            usage(json, usage);
        }
        json.writeEndObject();
    }

    private static void usage(JsonGenerator json, Usage usage) throws IOException {
        json.writeObjectFieldStart("usage");
        json.writeNumberField("prompt_tokens", usage.promptTokens());
        json.writeNumberField("completion_tokens", usage.completionTokens());
        json.writeNumberField("total_tokens", usage.totalTokens());
        json.writeEndObject();
    }

    private static void modelObject(JsonGenerator json, String model) throws IOException {
        json.writeStartObject();
        json.writeStringField("id", model);
        json.writeStringField("object", "model");
        json.writeNumberField("created", MODEL_CREATED);
        json.writeStringField("owned_by", "sluice-mock");
        json.writeEndObject();
    }

    private static void floats(JsonGenerator json, float[] vector) throws IOException {
        // Written as floats (shortest text that round-trips to the same float32), like OpenAI's.
        json.writeStartArray();
        for (float value : vector) {
            json.writeNumber(value);
        }
        json.writeEndArray();
    }

    private static String base64(float[] vector) {
        ByteBuffer bytes = ByteBuffer.allocate(vector.length * Float.BYTES).order(ByteOrder.LITTLE_ENDIAN);
        for (float value : vector) {
            bytes.putFloat(value);
        }
        return Base64.getEncoder().encodeToString(bytes.array());
    }

    private static byte[] write(Body body) {
        ByteArrayBuilder buffer = new ByteArrayBuilder(512);
        try (JsonGenerator json = FACTORY.createGenerator(buffer)) {
            body.write(json);
        } catch (IOException e) {
            throw new UncheckedIOException("in-memory JSON write failed", e); // cannot happen: no I/O
        }
        return buffer.toByteArray();
    }
}
