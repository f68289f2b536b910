package sluice.core.cluster;

import java.util.Map;
import org.apache.pekko.util.ByteString;

/**
 * An HTTP request for the model server of one job. The body is whole: the edge has already read and size-checked it
 * to find the model, and holding it lets a request that never reached a replica be retried on another.
 */
public record UpstreamRequest(String service, String jobId, String method, String path, Map<String, String> headers,
                              ByteString body, String requestId) {
  public UpstreamRequest {
    headers = Map.copyOf(headers);
  }
}
