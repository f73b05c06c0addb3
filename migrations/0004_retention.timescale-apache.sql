-- Retention (timescale-apache tier: Neon, Supabase). The Apache edition has no policies, no
-- compression and no jobs (Phase 5 of docs/ARCHITECTURE.md §1 fails there), so the daily cron calls
-- `CALL analytics_apply_retention($1)`: drop_chunks on raw events, deletes on the rollup tables.
-- Durations come from analytics_settings.
--
-- Before dropping raw chunks it brings the rollups up to date over the range it drops, so history
-- that the hourly cron had not reached yet is kept. Rollup rows are never recomputed after that
-- (analytics_refresh_rollups is clamped to analytics_raw_floor()).
CREATE PROCEDURE analytics_apply_retention(p_now timestamptz DEFAULT now(), INOUT report jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  raw_cutoff timestamptz := p_now - analytics_setting('raw_retention');
  raw_chunks integer;
  hourly bigint;
  daily bigint;
  asset bigint;
  dirty bigint;
BEGIN
  IF analytics_raw_floor() < raw_cutoff THEN
    CALL analytics_refresh_rollups(analytics_raw_floor(), raw_cutoff);
  END IF;
  SELECT count(*) INTO raw_chunks FROM drop_chunks('analytics_events_ts', older_than => raw_cutoff);
  WITH gone AS (DELETE FROM analytics_hourly WHERE bucket < p_now - analytics_setting('hourly_retention') RETURNING 1)
  SELECT count(*) INTO hourly FROM gone;
  WITH gone AS (DELETE FROM analytics_daily WHERE bucket < p_now - analytics_setting('daily_retention') RETURNING 1)
  SELECT count(*) INTO daily FROM gone;
  WITH gone AS (DELETE FROM analytics_asset_popularity_ts WHERE bucket < p_now - analytics_setting('asset_popularity_retention') RETURNING 1)
  SELECT count(*) INTO asset FROM gone;
  WITH gone AS (DELETE FROM analytics_dirty_buckets WHERE bucket < raw_cutoff RETURNING 1)
  SELECT count(*) INTO dirty FROM gone;
  report := jsonb_build_object(
    'raw_chunks_dropped', raw_chunks,
    'hourly_rows_deleted', hourly,
    'daily_rows_deleted', daily,
    'asset_popularity_rows_deleted', asset,
    'dirty_buckets_dropped', dirty);
END
$$;
