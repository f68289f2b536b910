package sluice.mock;

/**
 * A request the server refuses, carrying everything needed for OpenAI's error JSON. Thrown from deep
 * inside validation so handlers stay linear; no stack trace because it is control flow, not a bug.
 */
final class ApiException extends RuntimeException {

    static final String INVALID_REQUEST = "invalid_request_error";

    private final int status;
    private final String type;
    private final String param;
    private final String code;

    ApiException(int status, String message, String type, String param, String code) {
        super(message, null, false, false);
        this.status = status;
        this.type = type;
        this.param = param;
        this.code = code;
    }

    static ApiException invalid(String param, String message) {
        return new ApiException(400, message, INVALID_REQUEST, param, null);
    }

    static ApiException modelNotFound(String model) {
        return new ApiException(404, "The model `" + model + "` does not exist or you do not have access to it.",
                INVALID_REQUEST, null, "model_not_found");
    }

    int status() {
        return status;
    }

    String type() {
        return type;
    }

    String param() {
        return param;
    }

    String code() {
        return code;
    }
}
