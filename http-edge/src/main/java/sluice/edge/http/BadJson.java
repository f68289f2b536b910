package sluice.edge.http;

import com.fasterxml.jackson.core.exc.StreamReadException;

/**
 * The refusal of a request body that is not one JSON value with each field once (the API's and the admin API's
 * readers fail on trailing data and on duplicate fields). Jackson's own message names its classes, so the client gets
 * ours; a duplicate field is named in {@code param} by its path ({@code limits.requests.minute}).
 */
final class BadJson {
  private static final String DUPLICATE = "Duplicate field '";

  private BadJson() {}

  static ApiError of(Exception e) {
    if (e instanceof StreamReadException r && r.getOriginalMessage() != null && r.getOriginalMessage().startsWith(DUPLICATE)
        && r.getProcessor() != null) {
      String path = r.getProcessor().getParsingContext().pathAsPointer().toString().substring(1).replace('/', '.');
      return ApiError.of(ApiError.Kind.INVALID_JSON, "The JSON body has the field '" + path + "' more than once").withParam(path);
    }
    return ApiError.of(ApiError.Kind.INVALID_JSON, "We could not parse the JSON body of your request");
  }
}
