-- Raw events on plain PostgreSQL: declaratively partitioned by day (UTC), partitions created ahead
-- and behind by analytics_ensure_partitions(), which this migration calls once and the daily cron
-- calls every day. Same columns and indexes as the hypertable in the TimescaleDB tiers.
--
-- No DEFAULT partition, on purpose. An insert whose time has no partition fails (SQLSTATE 23514)
-- and the whole statement rolls back, dedupe rows included, so the batch stays in the Redis
-- write-ahead buffer and is retried by the drain once a partition exists (the drain may call
-- analytics_ensure_partitions() itself on 23514). A DEFAULT partition would accept the row but
-- then block creating the partition for that day (PostgreSQL refuses to create a partition whose
-- range overlaps rows in the default) and be scanned by every query. Ingest only accepts events
-- from the last 7 days up to a clamped near future, which partitions_behind/ahead cover.
CREATE TABLE analytics_events_ts (
  time        timestamptz NOT NULL,
  event_id    uuid NOT NULL,
  event_name  text NOT NULL,
  category    text NOT NULL,
  user_id     text,
  session_id  text,
  properties  jsonb NOT NULL DEFAULT '{}',
  device_info jsonb,
  page_url    text,
  referrer    text,
  received_at timestamptz NOT NULL,
  client_time timestamptz,
  skew_ms     bigint NOT NULL DEFAULT 0,
  flags       text[] NOT NULL DEFAULT '{}'
) PARTITION BY RANGE (time);

-- Same as the hypertable's default index: rollup refreshes read one hour of a day's partition.
CREATE INDEX analytics_events_ts_time_idx ON analytics_events_ts (time DESC);
-- The plan's three read indexes, as written.
CREATE INDEX idx_analytics_ts_category ON analytics_events_ts (category, time DESC);
CREATE INDEX idx_analytics_ts_event ON analytics_events_ts (event_name, time DESC);
CREATE INDEX idx_analytics_ts_user ON analytics_events_ts (user_id, time DESC) WHERE user_id IS NOT NULL;

-- Partition for UTC day D is named analytics_events_ts_pYYYYMMDD and holds [D, D + 1 day).
-- Creates the missing ones for the days from (p_now - partitions_behind) to (p_now +
-- partitions_ahead), never below the raw retention cutoff (retention would drop them again).
-- Returns how many it created. Serialised by a transaction advisory lock, so concurrent calls
-- (two cron runs) do not race on CREATE TABLE.
CREATE FUNCTION analytics_ensure_partitions(p_now timestamptz DEFAULT now()) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
  origin  constant timestamptz := '2000-01-01 00:00:00+00';
  first_d timestamptz := date_bin('1 day', p_now - analytics_setting('partitions_behind'), origin);
  last_d  timestamptz := date_bin('1 day', p_now + analytics_setting('partitions_ahead'), origin);
  cutoff  timestamptz := p_now - analytics_setting('raw_retention');
  d       timestamptz;
  part    text;
  created integer := 0;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('analytics_ensure_partitions'));
  d := first_d;
  WHILE d <= last_d LOOP
    IF d + INTERVAL '1 day' > cutoff THEN
      part := 'analytics_events_ts_p' || to_char(d AT TIME ZONE 'UTC', 'YYYYMMDD');
      IF to_regclass(part) IS NULL THEN
        EXECUTE format(
          'CREATE TABLE %I PARTITION OF analytics_events_ts FOR VALUES FROM (%L) TO (%L)',
          part,
          to_char(d AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"+00"'),
          to_char((d + INTERVAL '1 day') AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS"+00"'));
        created := created + 1;
      END IF;
    END IF;
    d := d + INTERVAL '1 day';
  END LOOP;
  RETURN created;
END
$$;

-- The daily partitions of analytics_events_ts with their UTC day, parsed from the name.
CREATE VIEW analytics_event_partitions AS
  SELECT c.oid::regclass AS partition,
         (to_date(substr(c.relname, length('analytics_events_ts_p') + 1), 'YYYYMMDD')::timestamp
           AT TIME ZONE 'UTC') AS day_start
  FROM pg_inherits i
  JOIN pg_class c ON c.oid = i.inhrelid
  WHERE i.inhparent = 'analytics_events_ts'::regclass
    AND c.relname ~ '^analytics_events_ts_p[0-9]{8}$';

-- The start of the oldest raw data still stored ('infinity' when no partition exists). Rollups are
-- never recomputed below it: a recompute over a dropped range would lose rollup history.
CREATE FUNCTION analytics_raw_floor() RETURNS timestamptz
LANGUAGE sql STABLE AS $$
  SELECT coalesce(min(day_start), 'infinity') FROM analytics_event_partitions
$$;

SELECT analytics_ensure_partitions();
