package sluice.core.cluster;

import java.util.Map;
import org.apache.pekko.NotUsed;
import org.apache.pekko.stream.javadsl.Source;
import org.apache.pekko.util.ByteString;

/**
 * The model server's response head and its body as a stream with backpressure. The body must be run or cancelled:
 * cancelling it (the client went away) aborts the request on the compute node.
 */
public record UpstreamResponse(int status, Map<String, String> headers, Source<ByteString, NotUsed> body) {
  public UpstreamResponse {
    headers = Map.copyOf(headers);
  }
}
