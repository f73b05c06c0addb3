-- Each day's top values, so that a ranked breakdown over closed days does not have to sum every
-- value's rows (src/read/breakdown.ts). A 30-day page breakdown of a 5,000-page site summed
-- 150,000 rollup rows to keep 10 (46–64 ms at 10M events). With each day's rank stored, a top-N
-- read (N < 50) takes the values ranked 1..k on some day of the range as candidates (k = 2(N + 1),
-- at most 100), sums only their rows, and bounds every other value by the sum over the days of
-- each day's (k + 1)-th count: a value outside a day's top k has at most that many events on that
-- day. When the (N + 1)-th candidate has more events than that bound, the candidates' ranking is
-- the exact answer; otherwise (flat distributions) the read sums every row as before.
--
-- `rank`: the value's place within its (bucket, dimension, event_name) by events (most first,
-- then value in byte order), exact up to 101 and capped at 102 ("below the 101st"). 0 means "not
-- ranked" and makes the row a candidate, which keeps the read exact for any row a writer other
-- than analytics_refresh_dimension_days stored; only that procedure writes the table.
ALTER TABLE analytics_daily_dimensions ADD COLUMN rank integer NOT NULL DEFAULT 0;

-- Rank the days already rolled up (one pass; a fresh database has none).
UPDATE analytics_daily_dimensions d SET rank = r.rank
FROM (
  SELECT bucket, dimension, event_name, value,
    least(row_number() OVER (PARTITION BY bucket, dimension, event_name ORDER BY event_count DESC, value COLLATE "C"), 102) AS rank
  FROM analytics_daily_dimensions
) r
WHERE d.bucket = r.bucket AND d.dimension = r.dimension AND d.event_name = r.event_name AND d.value = r.value;

-- The candidates and the bounds of a range: ≤ 101 entries per day, dimension and event name, of
-- which a read takes the first k + 1 (rank is a key column so that is a range).
CREATE INDEX analytics_daily_dimensions_top_idx ON analytics_daily_dimensions (dimension, event_name, bucket, rank)
  INCLUDE (value, event_count) WHERE rank <= 101;

-- As in 0013 (its SELECT is unchanged, wrapped), with the rank computed as the rows are inserted.
CREATE OR REPLACE PROCEDURE analytics_refresh_dimension_days(d_from timestamptz, d_to timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  origin constant timestamptz := '2000-01-01 00:00:00+00';
BEGIN
  IF d_from >= d_to THEN
    RETURN;
  END IF;
  DELETE FROM analytics_daily_dimensions WHERE bucket >= d_from AND bucket < d_to;
  INSERT INTO analytics_daily_dimensions (bucket, dimension, value, event_name, event_count, unique_visitors, unique_users, rank)
  SELECT g.bucket, g.dimension, g.value, g.event_name, g.event_count, g.unique_visitors, g.unique_users,
    least(row_number() OVER (PARTITION BY g.bucket, g.dimension, g.event_name ORDER BY g.event_count DESC, g.value COLLATE "C"), 102)
  FROM (
    SELECT date_bin('1 day', e.time, origin) AS bucket, d.dimension, coalesce(d.value, '') AS value,
           coalesce(e.event_name, '') AS event_name,
           count(*) AS event_count, count(DISTINCT e.visitor_id) AS unique_visitors, count(DISTINCT e.user_id) AS unique_users
    FROM analytics_events_ts e
    CROSS JOIN LATERAL (VALUES
      ('page_path', e.page_path), ('page_host', e.page_host), ('referrer_host', e.referrer_host),
      ('utm_source', e.utm_source), ('utm_medium', e.utm_medium), ('utm_campaign', e.utm_campaign),
      ('country', e.country), ('device_class', e.device_class), ('browser', e.browser), ('os', e.os)
    ) AS d(dimension, value)
    WHERE e.time >= d_from AND e.time < d_to
    GROUP BY GROUPING SETS (
      (date_bin('1 day', e.time, origin), d.dimension, d.value, e.event_name),
      (date_bin('1 day', e.time, origin), d.dimension, d.value))
  ) g;
END
$$;
