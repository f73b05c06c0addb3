-- What /health needs to say that the TimescaleDB scheduler's jobs fail (measured: on PostgreSQL
-- 15.20 every background job fails with SQLSTATE 24000 "cannot drop portal"). The daily cron runs
-- the policies in the foreground, which keeps the data right but never updates job_stats, so the
-- failures stay visible here until a background run succeeds again.
--
-- The same in every tier: without TimescaleDB (tier postgres) it returns an empty list, through
-- dynamic SQL so that this file compiles where timescaledb_information does not exist.
CREATE FUNCTION analytics_scheduler_failures() RETURNS jsonb
LANGUAGE plpgsql STABLE AS $$
DECLARE
  failures jsonb;
BEGIN
  IF to_regclass('timescaledb_information.job_stats') IS NULL THEN
    RETURN '[]'::jsonb;
  END IF;
  EXECUTE $q$
    SELECT coalesce(jsonb_agg(jsonb_build_object(
        'job_id', j.job_id, 'proc_name', j.proc_name, 'relation', j.hypertable_name,
        'last_run_started_at', s.last_run_started_at, 'total_failures', s.total_failures)
      ORDER BY j.job_id), '[]'::jsonb)
    FROM timescaledb_information.jobs j
    JOIN timescaledb_information.job_stats s ON s.job_id = j.job_id
    WHERE s.last_run_status = 'Failed'
      AND j.proc_name IN ('policy_compression', 'policy_retention', 'policy_refresh_continuous_aggregate')
      AND j.hypertable_name IN ('analytics_events_ts', 'analytics_hourly', 'analytics_daily', 'analytics_asset_popularity_ts')
  $q$ INTO failures;
  RETURN failures;
END
$$;
