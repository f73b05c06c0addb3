-- The daily cron's own record of the policy jobs it ran in the foreground (`CALL run_job`), which
-- TimescaleDB's job_stats never shows: staleness is judged from whichever is newer, this or the
-- last successful background run, so a policy is rerun only when it is due again.
CREATE TABLE analytics_policy_runs (
  job_id      integer PRIMARY KEY,
  finished_at timestamptz NOT NULL
);

-- Compresses raw chunks older than compress_after that are not compressed yet, and counts only
-- those: 0004's version counted every chunk in the range (compress_chunk with if_not_compressed
-- returns the chunk whether or not it compressed it).
CREATE OR REPLACE FUNCTION analytics_compress_chunks(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  chunk regclass;
  compressed integer := 0;
BEGIN
  FOR chunk IN
    SELECT c FROM show_chunks('analytics_events_ts', older_than => p_now - analytics_setting('compress_after')) AS c
    WHERE NOT EXISTS (
      SELECT 1 FROM timescaledb_information.chunks i
      WHERE format('%I.%I', i.chunk_schema, i.chunk_name)::regclass = c AND i.is_compressed)
  LOOP
    PERFORM compress_chunk(chunk, if_not_compressed => true);
    compressed := compressed + 1;
  END LOOP;
  RETURN compressed;
END
$$;
