package sluice.edge.http;

/** Carries an {@link ApiError} out of a route; the shared exception handler answers with it (EdgeDirectives). */
final class ApiException extends RuntimeException {
  private static final long serialVersionUID = 1L;
  private final transient ApiError error;

  ApiException(ApiError error) {
    super(error.message(), null, false, false);       // a refusal, not a fault: no stack trace
    this.error = error;
  }

  ApiError error() { return error; }
}
