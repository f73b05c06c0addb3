-- Retention (postgres tier). The daily cron calls `CALL analytics_apply_retention($1)`: it drops
-- whole daily partitions of raw events whose day ended at or before (now - raw_retention), the
-- same rule drop_chunks applies, and deletes rollup rows older than their retention. Durations
-- come from analytics_settings.
--
-- Before dropping partitions it brings the rollups up to date over the range it drops, so history
-- that the hourly cron had not reached yet is kept. Rollup rows are never recomputed after that
-- (analytics_refresh_rollups is clamped to analytics_raw_floor()).
CREATE PROCEDURE analytics_apply_retention(p_now timestamptz DEFAULT now(), INOUT report jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  raw_cutoff timestamptz := p_now - analytics_setting('raw_retention');
  part record;
  raw_parts integer := 0;
  hourly bigint;
  daily bigint;
  asset bigint;
  dirty bigint;
BEGIN
  IF analytics_raw_floor() < raw_cutoff THEN
    CALL analytics_refresh_rollups(analytics_raw_floor(), raw_cutoff);
  END IF;
  FOR part IN
    SELECT partition FROM analytics_event_partitions
    WHERE day_start + INTERVAL '1 day' <= raw_cutoff
    ORDER BY day_start
  LOOP
    EXECUTE format('DROP TABLE %s', part.partition);
    raw_parts := raw_parts + 1;
  END LOOP;
  WITH gone AS (DELETE FROM analytics_hourly WHERE bucket < p_now - analytics_setting('hourly_retention') RETURNING 1)
  SELECT count(*) INTO hourly FROM gone;
  WITH gone AS (DELETE FROM analytics_daily WHERE bucket < p_now - analytics_setting('daily_retention') RETURNING 1)
  SELECT count(*) INTO daily FROM gone;
  WITH gone AS (DELETE FROM analytics_asset_popularity_ts WHERE bucket < p_now - analytics_setting('asset_popularity_retention') RETURNING 1)
  SELECT count(*) INTO asset FROM gone;
  WITH gone AS (DELETE FROM analytics_dirty_buckets WHERE bucket < raw_cutoff RETURNING 1)
  SELECT count(*) INTO dirty FROM gone;
  report := jsonb_build_object(
    'raw_partitions_dropped', raw_parts,
    'hourly_rows_deleted', hourly,
    'daily_rows_deleted', daily,
    'asset_popularity_rows_deleted', asset,
    'dirty_buckets_dropped', dirty);
END
$$;
