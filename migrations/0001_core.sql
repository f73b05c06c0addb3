-- Tables and functions every tier shares: the recorded tier, the settings (retention and friends,
-- in one place), exactly-once bookkeeping, and the state the cron jobs keep.

-- Key/value facts about this database. `tier` is written here once, from the tier the migration
-- runner chose (it sets analytics.tier for the session), and the worker reads it with one query.
CREATE TABLE analytics_meta (
  key        text PRIMARY KEY,
  value      text NOT NULL,
  updated_at timestamptz NOT NULL DEFAULT now()
);

INSERT INTO analytics_meta (key, value) VALUES ('tier', current_setting('analytics.tier'));

-- Every duration the storage layer acts on, in one place. Read by the TimescaleDB policies
-- (analytics_apply_policies), the retention procedures, partition upkeep and dedupe cleanup.
CREATE TABLE analytics_settings (
  name        text PRIMARY KEY,
  value       interval NOT NULL,
  description text NOT NULL
);

INSERT INTO analytics_settings (name, value, description) VALUES
  ('raw_retention',              '90 days', 'Raw events (analytics_events_ts) older than this are dropped, whole chunks or partitions at a time.'),
  ('hourly_retention',           '1 year',  'analytics_hourly buckets older than this are dropped.'),
  ('daily_retention',            '5 years', 'analytics_daily buckets older than this are dropped.'),
  ('asset_popularity_retention', '5 years', 'analytics_asset_popularity_ts buckets older than this are dropped.'),
  ('compress_after',             '7 days',  'timescale tier: raw chunks older than this are compressed.'),
  ('dedupe_window',              '8 days',  'analytics_event_ids rows received longer ago than this are deleted. Ingest rejects events more than 7 days old, so a retry can never reach further back.'),
  ('partitions_behind',          '8 days',  'postgres tier: daily partitions are kept created this far back (covers the 7-day ingest window).'),
  ('partitions_ahead',           '7 days',  'postgres tier: daily partitions are created this far ahead, so inserts survive a week without the daily cron.');

-- The value of one setting; raises instead of returning NULL so that a typo fails loudly.
CREATE FUNCTION analytics_setting(p_name text) RETURNS interval
LANGUAGE plpgsql STABLE AS $$
DECLARE
  v interval;
BEGIN
  SELECT value INTO v FROM analytics_settings WHERE name = p_name;
  IF v IS NULL THEN
    RAISE EXCEPTION 'analytics_settings has no row named %', p_name;
  END IF;
  RETURN v;
END
$$;

-- Exactly once (docs/ARCHITECTURE.md, invariant 2): dedupe is by event_id alone, whatever time a retry carries.
-- Written in the same statement as the raw insert (INSERT ... ON CONFLICT DO NOTHING RETURNING).
CREATE TABLE analytics_event_ids (
  event_id    uuid PRIMARY KEY,
  received_at timestamptz NOT NULL
);
-- Serves analytics_cleanup_event_ids (a range delete on received_at).
CREATE INDEX analytics_event_ids_received_at_idx ON analytics_event_ids (received_at);

-- Deletes dedupe rows older than the dedupe window; the daily cron calls it. Returns the count.
CREATE FUNCTION analytics_cleanup_event_ids(p_now timestamptz DEFAULT now()) RETURNS bigint
LANGUAGE sql AS $$
  WITH gone AS (
    DELETE FROM analytics_event_ids
    WHERE received_at < p_now - analytics_setting('dedupe_window')
    RETURNING 1
  )
  SELECT count(*) FROM gone
$$;

-- Closed hours and days that received late events (marked by the insert statement). The hourly
-- cron claims them (DELETE ... RETURNING) and brings the rollups up to date for them.
CREATE TABLE analytics_dirty_buckets (
  granularity text NOT NULL CHECK (granularity IN ('hour', 'day')),
  bucket      timestamptz NOT NULL,
  marked_at   timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (granularity, bucket)
);

-- One row per comparison made by the hourly reconciliation (Redis vs raw vs rollup).
CREATE TABLE analytics_checks (
  id           bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  hour         timestamptz NOT NULL,
  -- '*' for the hour's total, otherwise the event_name compared.
  scope        text NOT NULL DEFAULT '*',
  redis_count  bigint,
  raw_count    bigint NOT NULL,
  rollup_count bigint NOT NULL,
  drift        bigint NOT NULL,
  status       text NOT NULL CHECK (status IN ('match', 'drift')),
  action       text,
  checked_at   timestamptz NOT NULL DEFAULT now()
);
-- Serves the recent-checks read (/checks, /health): newest first.
CREATE INDEX analytics_checks_checked_at_idx ON analytics_checks (checked_at DESC);

-- One row per cron job run.
CREATE TABLE analytics_job_runs (
  id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
  job         text NOT NULL,
  started_at  timestamptz NOT NULL DEFAULT now(),
  finished_at timestamptz,
  outcome     text NOT NULL DEFAULT 'running' CHECK (outcome IN ('running', 'ok', 'error', 'skipped')),
  counts      jsonb NOT NULL DEFAULT '{}',
  error       text
);
-- Serves "latest run of each job" (/health).
CREATE INDEX analytics_job_runs_job_started_idx ON analytics_job_runs (job, started_at DESC);

-- Job locks that survive between statements. The worker talks over stateless HTTP, where a session
-- advisory lock would be released as soon as its statement ends; a row with an expiry is not.
CREATE TABLE analytics_job_leases (
  job        text PRIMARY KEY,
  holder     text NOT NULL,
  expires_at timestamptz NOT NULL
);
