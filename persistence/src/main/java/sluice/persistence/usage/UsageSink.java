package sluice.persistence.usage;

import java.sql.SQLException;
import java.util.List;

/** Where {@link UsageWriter} puts its batches: {@link UsageStore}, or a wrapper around it (tests count batches). */
public interface UsageSink extends AutoCloseable {
  /** Stores the whole batch or, on an exception, none of it. */
  void insert(List<UsageRecord> batch) throws SQLException;

  @Override default void close() {}
}
