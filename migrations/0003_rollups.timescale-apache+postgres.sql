-- Rollups as plain tables (timescale-apache and postgres tiers), upserted by the hourly cron
-- through analytics_refresh_rollups. Same relation names and columns as the continuous aggregates
-- of the timescale tier. Buckets are UTC hours and days (date_bin with a UTC origin, which, unlike
-- date_trunc, does not depend on the session's TimeZone), the same as time_bucket.
CREATE TABLE analytics_hourly (
  bucket          timestamptz NOT NULL,
  event_name      text NOT NULL,
  category        text NOT NULL,
  event_count     bigint NOT NULL,
  unique_users    bigint NOT NULL,
  unique_sessions bigint NOT NULL,
  PRIMARY KEY (bucket, event_name, category)
);

CREATE TABLE analytics_daily (
  bucket          timestamptz NOT NULL,
  event_name      text NOT NULL,
  category        text NOT NULL,
  event_count     bigint NOT NULL,
  unique_users    bigint NOT NULL,
  unique_sessions bigint NOT NULL,
  PRIMARY KEY (bucket, event_name, category)
);

-- Daily, per properties->>'asset_type' of asset_generated events that name one.
CREATE TABLE analytics_asset_popularity_ts (
  bucket           timestamptz NOT NULL,
  asset_type       text NOT NULL,
  generation_count bigint NOT NULL,
  unique_creators  bigint NOT NULL,
  PRIMARY KEY (bucket, asset_type)
);

-- Brings the three rollups up to date for [p_from, p_to): every hour and day bucket that meets the
-- range is recomputed from raw rows and upserted (ON CONFLICT DO UPDATE SET x = EXCLUDED.x, so
-- running it twice changes nothing: docs/ARCHITECTURE.md, invariant 7). Daily uniques are counted per day from
-- raw rows, never summed from hours. Nothing is ever deleted, and windows are clamped below to
-- analytics_raw_floor(), so a range whose raw data was dropped keeps its rollups.
-- The statement is `CALL analytics_refresh_rollups($1, $2)`, the same as in the timescale tier; it
-- may also run inside a transaction (e.g. together with claiming dirty buckets).
CREATE PROCEDURE analytics_refresh_rollups(p_from timestamptz, p_to timestamptz)
LANGUAGE plpgsql AS $$
DECLARE
  origin   constant timestamptz := '2000-01-01 00:00:00+00';
  floor_ts timestamptz := analytics_raw_floor();
  h_from   timestamptz := greatest(date_bin('1 hour', p_from, origin), floor_ts);
  h_to     timestamptz := date_bin('1 hour', p_to - INTERVAL '1 microsecond', origin) + INTERVAL '1 hour';
  d_from   timestamptz := greatest(date_bin('1 day', p_from, origin), floor_ts);
  d_to     timestamptz := date_bin('1 day', p_to - INTERVAL '1 microsecond', origin) + INTERVAL '1 day';
BEGIN
  IF h_from < h_to THEN
    INSERT INTO analytics_hourly AS r (bucket, event_name, category, event_count, unique_users, unique_sessions)
    SELECT date_bin('1 hour', time, origin), event_name, category,
           count(*), count(DISTINCT user_id), count(DISTINCT session_id)
    FROM analytics_events_ts
    WHERE time >= h_from AND time < h_to
    GROUP BY 1, 2, 3
    ON CONFLICT (bucket, event_name, category) DO UPDATE SET
      event_count = EXCLUDED.event_count,
      unique_users = EXCLUDED.unique_users,
      unique_sessions = EXCLUDED.unique_sessions;
  END IF;

  IF d_from < d_to THEN
    INSERT INTO analytics_daily AS r (bucket, event_name, category, event_count, unique_users, unique_sessions)
    SELECT date_bin('1 day', time, origin), event_name, category,
           count(*), count(DISTINCT user_id), count(DISTINCT session_id)
    FROM analytics_events_ts
    WHERE time >= d_from AND time < d_to
    GROUP BY 1, 2, 3
    ON CONFLICT (bucket, event_name, category) DO UPDATE SET
      event_count = EXCLUDED.event_count,
      unique_users = EXCLUDED.unique_users,
      unique_sessions = EXCLUDED.unique_sessions;

    INSERT INTO analytics_asset_popularity_ts AS r (bucket, asset_type, generation_count, unique_creators)
    SELECT date_bin('1 day', time, origin), properties->>'asset_type',
           count(*), count(DISTINCT user_id)
    FROM analytics_events_ts
    WHERE time >= d_from AND time < d_to
      AND event_name = 'asset_generated' AND properties->>'asset_type' IS NOT NULL
    GROUP BY 1, 2
    ON CONFLICT (bucket, asset_type) DO UPDATE SET
      generation_count = EXCLUDED.generation_count,
      unique_creators = EXCLUDED.unique_creators;
  END IF;
END
$$;
