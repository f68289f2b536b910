package sluice.persistence.usage;

import java.util.List;

/** Totals over every record a filter matches, and the same per (user, model), ordered by user, then model. */
public record UsageSummary(Totals total, List<Group> byUserAndModel) {
  public UsageSummary {
    if (total == null) throw new IllegalArgumentException("total is required");
    byUserAndModel = List.copyOf(byUserAndModel);
  }

  /**
   * @param failedRequests     requests answered with a status of 400 or more
   * @param clientDisconnected requests whose client went away before the response ended
   */
  public record Totals(long requests, long promptTokens, long completionTokens, long totalTokens, long failedRequests,
                       long clientDisconnected) {
    public static final Totals ZERO = new Totals(0, 0, 0, 0, 0, 0);

    public Totals {
      if (requests < 0 || promptTokens < 0 || completionTokens < 0 || failedRequests < 0 || clientDisconnected < 0) {
        throw new IllegalArgumentException("usage totals must be >= 0");
      }
      if (totalTokens != promptTokens + completionTokens) {
        throw new IllegalArgumentException("totalTokens must be promptTokens + completionTokens");
      }
    }

    public Totals plus(Totals o) {
      return new Totals(requests + o.requests, promptTokens + o.promptTokens, completionTokens + o.completionTokens,
          totalTokens + o.totalTokens, failedRequests + o.failedRequests, clientDisconnected + o.clientDisconnected);
    }
  }

  public record Group(String user, String model, Totals totals) {
    public Group {
      if (user == null || model == null || totals == null) throw new IllegalArgumentException("user, model and totals are required");
    }
  }
}
