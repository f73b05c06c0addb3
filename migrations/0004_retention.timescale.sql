-- Compression and retention (timescale tier).
--
-- Phases 1 and 5 of docs/ARCHITECTURE.md §1 (retention and compression); the durations come from
-- analytics_settings instead of being written into each call, and compress_orderby is explicit.
ALTER TABLE analytics_events_ts SET (
  timescaledb.compress,
  timescaledb.compress_segmentby = 'category, event_name',
  timescaledb.compress_orderby = 'time DESC'
);

-- (Re)creates the compression and retention policies from analytics_settings. Run it again after
-- changing a setting: SELECT analytics_apply_policies();
CREATE FUNCTION analytics_apply_policies() RETURNS void
LANGUAGE plpgsql AS $$
BEGIN
  PERFORM remove_compression_policy('analytics_events_ts', if_exists => true);
  PERFORM add_compression_policy('analytics_events_ts', compress_after => analytics_setting('compress_after'));

  PERFORM remove_retention_policy('analytics_events_ts', if_exists => true);
  PERFORM add_retention_policy('analytics_events_ts', drop_after => analytics_setting('raw_retention'));
  PERFORM remove_retention_policy('analytics_hourly', if_exists => true);
  PERFORM add_retention_policy('analytics_hourly', drop_after => analytics_setting('hourly_retention'));
  PERFORM remove_retention_policy('analytics_daily', if_exists => true);
  PERFORM add_retention_policy('analytics_daily', drop_after => analytics_setting('daily_retention'));
  PERFORM remove_retention_policy('analytics_asset_popularity_ts', if_exists => true);
  PERFORM add_retention_policy('analytics_asset_popularity_ts', drop_after => analytics_setting('asset_popularity_retention'));
END
$$;

SELECT analytics_apply_policies();

-- Does now what the retention policies do in the background, for databases whose scheduler does
-- not run them (the embedded dev database never runs jobs; PostgreSQL 15.20 breaks background jobs,
-- see reference/timescaledb.md section 6.6). Idempotent with the policies, so the daily cron may
-- always call it: `CALL analytics_apply_retention($1)`.
-- Before dropping raw chunks it materialises the rollups over the range it drops, so history that
-- no refresh had reached yet is kept (a policy could have been behind).
CREATE PROCEDURE analytics_apply_retention(p_now timestamptz DEFAULT now(), INOUT report jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  raw_cutoff timestamptz := p_now - analytics_setting('raw_retention');
  raw_chunks integer;
  hourly_chunks integer;
  daily_chunks integer;
  asset_chunks integer;
  dirty bigint;
BEGIN
  IF analytics_raw_floor() < raw_cutoff THEN
    CALL analytics_refresh_rollups(analytics_raw_floor(), raw_cutoff);
  END IF;
  SELECT count(*) INTO raw_chunks FROM drop_chunks('analytics_events_ts', older_than => raw_cutoff);
  SELECT count(*) INTO hourly_chunks
    FROM drop_chunks('analytics_hourly', older_than => p_now - analytics_setting('hourly_retention'));
  SELECT count(*) INTO daily_chunks
    FROM drop_chunks('analytics_daily', older_than => p_now - analytics_setting('daily_retention'));
  SELECT count(*) INTO asset_chunks
    FROM drop_chunks('analytics_asset_popularity_ts', older_than => p_now - analytics_setting('asset_popularity_retention'));
  WITH gone AS (DELETE FROM analytics_dirty_buckets WHERE bucket < raw_cutoff RETURNING 1)
  SELECT count(*) INTO dirty FROM gone;
  report := jsonb_build_object(
    'raw_chunks_dropped', raw_chunks,
    'hourly_chunks_dropped', hourly_chunks,
    'daily_chunks_dropped', daily_chunks,
    'asset_popularity_chunks_dropped', asset_chunks,
    'dirty_buckets_dropped', dirty);
END
$$;

-- Compresses raw chunks older than compress_after that are not compressed yet: what the
-- compression policy does, for databases whose scheduler does not run it. Returns the count.
CREATE FUNCTION analytics_compress_chunks(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE sql AS $$
  SELECT count(compress_chunk(c, if_not_compressed => true))::integer
  FROM show_chunks('analytics_events_ts', older_than => p_now - analytics_setting('compress_after')) AS c
$$;
