-- Per-day totals of the usage records that sluice.usage.retention folded away (sluice.persistence.usage.UsageRollUp):
-- one row per UTC day, user, key and model. A day's records are deleted in the same transaction that adds them here,
-- so a record is counted either in sluice_usage or here, never in both. failed_requests counts status >= 400.
-- day_utc, not "day": DAY is a keyword in H2.
CREATE TABLE IF NOT EXISTS sluice_usage_daily (
  day_utc DATE NOT NULL,
  user_id VARCHAR(256) NOT NULL,
  key_id VARCHAR(256) NOT NULL,
  model VARCHAR(256) NOT NULL,
  requests BIGINT NOT NULL,
  prompt_tokens BIGINT NOT NULL,
  completion_tokens BIGINT NOT NULL,
  failed_requests BIGINT NOT NULL,
  client_disconnected BIGINT NOT NULL,
  PRIMARY KEY (day_utc, user_id, key_id, model)
);
-- The admin API's per-user queries over a range of days (the primary key serves the other ones: it leads with the day).
CREATE INDEX IF NOT EXISTS sluice_usage_daily_user_day ON sluice_usage_daily (user_id, day_utc);
