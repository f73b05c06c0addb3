-- Breakdown dimensions and anonymous visitors (the same in every tier).
--
-- The ingest worker derives the dimensions (src/domain/dimensions.ts) and the visitor id (a hash
-- salted per UTC day, src/domain/visitor.ts) and writes them with the row. Nullable, without a
-- default: adding them rewrites nothing, and rows stored before this migration read as null.
-- One column per statement: TimescaleDB accepts ADD COLUMN on a hypertable with compression
-- enabled, one column at a time.
ALTER TABLE analytics_events_ts ADD COLUMN visitor_id text;
ALTER TABLE analytics_events_ts ADD COLUMN country text;
ALTER TABLE analytics_events_ts ADD COLUMN device_class text;
ALTER TABLE analytics_events_ts ADD COLUMN browser text;
ALTER TABLE analytics_events_ts ADD COLUMN os text;
ALTER TABLE analytics_events_ts ADD COLUMN page_path text;
ALTER TABLE analytics_events_ts ADD COLUMN page_host text;
ALTER TABLE analytics_events_ts ADD COLUMN referrer_host text;
ALTER TABLE analytics_events_ts ADD COLUMN utm_source text;
ALTER TABLE analytics_events_ts ADD COLUMN utm_medium text;
ALTER TABLE analytics_events_ts ADD COLUMN utm_campaign text;

-- Daily rollup of every dimension, per UTC day, dimension and value: for each event name, and
-- for all event names together (event_name = ''; a real event name is never blank). A missing
-- value (no referrer, no country) is kept as value = '' so that its row counts too; the read API
-- answers it as null. Visitors and users are distinct per day: they do not add up across days,
-- and the read API says so (a range's visitors are the sum of its days' visitors, as in Plausible).
-- A plain table in every tier, also `timescale`: one continuous aggregate per dimension would
-- multiply refresh work, and a day is rolled up once, after it closed.
CREATE TABLE analytics_daily_dimensions (
  bucket          timestamptz NOT NULL,
  dimension       text NOT NULL,
  value           text NOT NULL,
  event_name      text NOT NULL,
  event_count     bigint NOT NULL,
  unique_visitors bigint NOT NULL,
  unique_users    bigint NOT NULL,
  -- A breakdown reads one (dimension, event_name) over a range of days: one index range.
  PRIMARY KEY (dimension, event_name, bucket, value)
);
-- Refreshes and retention delete whole days.
CREATE INDEX analytics_daily_dimensions_bucket_idx ON analytics_daily_dimensions (bucket);

-- Recomputes the closed UTC days [d_from, d_to) from raw rows: the days' rows are deleted and
-- inserted again in one transaction (a value that no longer occurs disappears; readers see the old
-- rows until commit), so running it twice changes nothing (docs/ARCHITECTURE.md, invariant 7).
CREATE PROCEDURE analytics_refresh_dimension_days(d_from timestamptz, d_to timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  origin constant timestamptz := '2000-01-01 00:00:00+00';
BEGIN
  IF d_from >= d_to THEN
    RETURN;
  END IF;
  DELETE FROM analytics_daily_dimensions WHERE bucket >= d_from AND bucket < d_to;
  INSERT INTO analytics_daily_dimensions (bucket, dimension, value, event_name, event_count, unique_visitors, unique_users)
  SELECT date_bin('1 day', e.time, origin), d.dimension, coalesce(d.value, ''), coalesce(e.event_name, ''),
         count(*), count(DISTINCT e.visitor_id), count(DISTINCT e.user_id)
  FROM analytics_events_ts e
  CROSS JOIN LATERAL (VALUES
    ('page_path', e.page_path), ('page_host', e.page_host), ('referrer_host', e.referrer_host),
    ('utm_source', e.utm_source), ('utm_medium', e.utm_medium), ('utm_campaign', e.utm_campaign),
    ('country', e.country), ('device_class', e.device_class), ('browser', e.browser), ('os', e.os)
  ) AS d(dimension, value)
  WHERE e.time >= d_from AND e.time < d_to
  GROUP BY GROUPING SETS (
    (date_bin('1 day', e.time, origin), d.dimension, d.value, e.event_name),
    (date_bin('1 day', e.time, origin), d.dimension, d.value));
END
$$;

-- Brings the dimension rollup up to date for the closed days that meet [p_from, p_to), and
-- catches up with any closed day after the newest one it holds (at most 7 days back): the hourly
-- job refreshes the hour that just closed, which reaches a day only in the first run after
-- midnight, so a missed run would otherwise leave that day to raw reads for good. The open day is
-- never rolled up (the read API aggregates it from raw rows), and days below analytics_raw_floor()
-- are never touched, so the rollup outlives raw retention.
CREATE PROCEDURE analytics_refresh_dimension_rollups(p_from timestamptz, p_to timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  origin   constant timestamptz := '2000-01-01 00:00:00+00';
  floor_ts timestamptz := analytics_raw_floor();
  open_day timestamptz := date_bin('1 day', now(), origin);
  d_from   timestamptz := greatest(date_bin('1 day', p_from, origin), floor_ts);
  d_to     timestamptz := least(date_bin('1 day', p_to - INTERVAL '1 microsecond', origin) + INTERVAL '1 day', open_day);
  -- Every day with events has page_host rows for all events ('' when no page URL).
  newest   timestamptz := (SELECT max(bucket) FROM analytics_daily_dimensions WHERE dimension = 'page_host' AND event_name = '');
  catch_up timestamptz := greatest(coalesce(newest + INTERVAL '1 day', '-infinity'), open_day - INTERVAL '7 days', floor_ts);
BEGIN
  -- The two windows, [d_from, d_to) and [catch_up, open_day), each day recomputed once (d_to <= open_day).
  IF catch_up >= open_day THEN
    CALL analytics_refresh_dimension_days(d_from, d_to);
  ELSIF d_from >= d_to THEN
    CALL analytics_refresh_dimension_days(catch_up, open_day);
  ELSIF catch_up <= d_to THEN
    CALL analytics_refresh_dimension_days(least(d_from, catch_up), open_day);
  ELSE
    CALL analytics_refresh_dimension_days(d_from, d_to);
    CALL analytics_refresh_dimension_days(catch_up, open_day);
  END IF;
END
$$;

-- The hourly and daily jobs keep this rollup through the procedures they already call, so late
-- events (dirty days), healing and the refresh before raw retention drops a range all reach it:
-- analytics_refresh_rollups and analytics_apply_retention become wrappers around the tier's own
-- procedure (renamed) and the dimension rollup. Callers and their statements do not change.
ALTER PROCEDURE analytics_refresh_rollups(timestamptz, timestamptz) RENAME TO analytics_refresh_event_rollups;

CREATE PROCEDURE analytics_refresh_rollups(p_from timestamptz, p_to timestamptz)
LANGUAGE plpgsql AS $$
BEGIN
  CALL analytics_refresh_event_rollups(p_from, p_to);
  CALL analytics_refresh_dimension_rollups(p_from, p_to);
END
$$;

ALTER PROCEDURE analytics_apply_retention(timestamptz, jsonb) RENAME TO analytics_apply_event_retention;

-- The dimension rollup is kept as long as the daily rollup (setting daily_retention).
CREATE PROCEDURE analytics_apply_retention(p_now timestamptz DEFAULT now(), INOUT report jsonb DEFAULT NULL)
LANGUAGE plpgsql AS $$
DECLARE
  dimension_rows bigint;
BEGIN
  CALL analytics_apply_event_retention(p_now, report);
  WITH gone AS (
    DELETE FROM analytics_daily_dimensions WHERE bucket < p_now - analytics_setting('daily_retention') RETURNING 1
  )
  SELECT count(*) INTO dimension_rows FROM gone;
  report := report || jsonb_build_object('dimension_rows_deleted', dimension_rows);
END
$$;
